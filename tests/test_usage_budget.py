"""Token and cost accounting (per turn, agent, dialogue, run), price tables, and budgets per dialogue and per run."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay import Dialog
from roleplay.backends import register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.cli import cli
from roleplay.conditions import CostBudget, MaxTurns, TokenBudget
from roleplay.dialog import StopReason
from roleplay.errors import ConfigError
from roleplay.generators import PersonaDialogGenerator
from roleplay.prices import PriceTable, load_prices
from roleplay.runs.batch import RunBudget, arun_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario
from roleplay.usage import SAMPLER, Usage, agent_lines, dialog_usage, metered, totals

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "doctor_patient.yaml"


def wordy(request):
    """A reply whose length (and so its reported completion tokens: words) depends on what was heard."""
    heard = sum(1 for role, _, _ in request.messages if role == "user")
    return " ".join(["word"] * (3 + heard % 4)) + "."


@pytest.fixture
def counted(monkeypatch):
    """A 'counted:' backend: `wordy` replies; the scripted client reports words as tokens. Returns its calls."""
    calls: list[int] = []

    def factory(model, options):
        def script(request):
            calls.append(options.seed)
            return wordy(request)
        return scripted_model(fn=script, seed=options.seed, name="counted")
    register_backend("counted", factory)
    return calls


def pair(doctor, patient, **options):
    return PersonaDialogGenerator("counted", doctor, patient, **options)


def test_a_dialogues_usage_is_the_sum_of_its_turns_per_agent(counted, doctor, patient):
    dialog = pair(doctor, patient, max_turns=7).generate(seed=3)
    lines = {line.name: line for line in dialog_usage(dialog)}
    assert set(lines) == {"Doctor", "Patient"}
    for name, line in lines.items():
        turns = [t for t in dialog.turns if t.speaker == name]
        assert line.prompt_tokens == sum(t.metadata["prompt_tokens"] for t in turns) > 0
        assert line.completion_tokens == sum(t.metadata["completion_tokens"] for t in turns) > 0
        assert line.calls == sum(t.metadata.get("calls", 1) for t in turns) and line.model == "counted"
    resampled = [t for t in dialog.turns if t.metadata.get("guard", {}).get("resamples")]
    assert resampled and all(t.metadata["calls"] == t.metadata["guard"]["resamples"] + 1 for t in resampled)
    assert totals(dialog_usage(dialog))["total"].prompt_tokens == dialog.metadata["prompt_tokens"]


def test_calls_outside_turns_count_apart_in_the_innermost_meter(scripted):
    model = scripted(replies=["one two three", "four five"])

    async def both():
        with metered("outer") as outer:
            await model.create([])
            with metered(SAMPLER) as inner:
                await model.create([])
        return outer, inner
    from roleplay._aio import run_sync
    outer, inner = run_sync(both())
    assert outer.by_model["scripted"] == Usage(completion_tokens=3, calls=1)
    assert inner.lines()[0].source == SAMPLER and inner.lines()[0].completion_tokens == 2


async def test_the_run_total_in_batch_json_is_the_sum_over_its_dialogues_turns(counted, tmp_path):
    job = batch_job(load_scenario(SCENARIO), model="counted", max_turns=5)
    result = await arun_batch(job, 6, tmp_path / "run", seed=10, concurrency=3, progress=False)
    dialogs = [Dialog.from_file(p) for p in (tmp_path / "run" / "dialogs").glob("*.json")]
    prompt = sum(t.metadata["prompt_tokens"] for d in dialogs for t in d.turns)
    completion = sum(t.metadata["completion_tokens"] for d in dialogs for t in d.turns)
    saved = json.loads((tmp_path / "run" / "batch.json").read_text())["usage"]
    assert saved["by_source"]["total"]["prompt_tokens"] == prompt > 0
    assert saved["by_source"]["total"]["completion_tokens"] == completion > 0
    assert sum(a["prompt_tokens"] for a in saved["by_agent"].values()) == prompt
    assert result.usage == saved and saved["by_source"]["total"]["calls"] == len(counted)


def test_token_budget_stops_a_dialogue_on_the_turn_that_spends_it(counted, doctor, patient):
    generator = pair(doctor, patient, max_turns=40, stop=TokenBudget(300))
    dialog = generator.generate(seed=1)
    spent = [t.metadata["prompt_tokens"] + t.metadata["completion_tokens"] for t in dialog.turns]
    assert dialog.stop_reason == StopReason.BUDGET and not dialog.complete
    assert sum(spent) >= 300 > sum(spent[:-1])  # within one turn of the limit


def test_budgets_compose_with_other_conditions(counted, doctor, patient):
    capped = pair(doctor, patient, stop=TokenBudget(10**6) | MaxTurns(4)).generate(seed=1)
    assert capped.stop_reason == StopReason.MAX_TURNS and len(capped.turns) == 4


def test_cost_budget_at_user_prices(counted, doctor, patient):
    prices = PriceTable.from_mapping({"count*": {"prompt": 1000, "completion": 2000}})
    dialog = pair(doctor, patient, max_turns=40, stop=CostBudget(0.5, prices)).generate(seed=1)
    costs = [prices.cost(Usage(prompt_tokens=t.metadata["prompt_tokens"],
                               completion_tokens=t.metadata["completion_tokens"]), "counted") for t in dialog.turns]
    assert dialog.stop_reason == StopReason.BUDGET and sum(costs) >= 0.5 > sum(costs[:-1])


def test_cost_budget_refuses_a_model_without_a_price(counted, doctor, patient):
    prices = PriceTable.from_mapping({"openai:*": 1})
    with pytest.raises(ConfigError, match="no price for counted"):
        pair(doctor, patient, max_turns=6, stop=CostBudget(1, prices)).generate(seed=1)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_token_budget_needs_a_positive_whole_number(bad):
    with pytest.raises(ConfigError, match="TokenBudget needs a whole number"):
        TokenBudget(bad)


def test_cost_budget_bad_arguments():
    with pytest.raises(ConfigError, match="positive amount"):
        CostBudget(0, PriceTable.from_mapping({"x": 1}))
    with pytest.raises(ConfigError, match="PriceTable"):
        CostBudget(1, {"x": 1})


def test_price_table_exact_glob_cached_and_errors(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("openai:gpt-x: {prompt: 2, completion: 8, cached_prompt: 1}\n'ollama:*': 0\n")
    table = load_prices(path)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=500_000, cached_prompt_tokens=400_000)
    assert table.cost(usage, "openai:gpt-x") == pytest.approx(600_000 * 2 / 1e6 + 0.4 + 4.0)
    assert table.cost(usage, "ollama:qwen2.5:14b") == 0 and table.cost(usage, "embedded") is None
    for text, message in [("[1, 2]", "maps model strings"), ("m: {prompt: -1, completion: 1}", "invalid"),
                          ("m: {prompt: 1}", "invalid"), ("m: {prompt: 1, completion: 1, extra: 2}", "invalid")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_prices(path)
    with pytest.raises(ConfigError, match="price table file not found"):
        load_prices(tmp_path / "none.yaml")


async def test_run_budget_stops_within_one_dialogue_and_the_folder_resumes(counted, tmp_path):
    out = tmp_path / "run"

    async def run(tokens):
        job = batch_job(load_scenario(SCENARIO), model="counted", max_turns=6)
        return await arun_batch(job, 30, out, seed=0, concurrency=1, progress=False, budget=RunBudget(tokens=tokens))

    first = await run(15_000)
    dialogs = [Dialog.from_file(p) for p in (out / "dialogs").glob("*.json")]
    per_dialogue = [sum(line.tokens for line in agent_lines(d)) for d in dialogs]
    spent = sum(per_dialogue)
    assert first.budget_spent and 0 < first.done < 30
    assert 15_000 <= spent < 15_000 + max(per_dialogue)  # the last dialogue crossed it; none started after
    assert "stopped: budget spent" in first.summary()
    assert json.loads((out / "batch.json").read_text())["stopped"] == "budget"
    again = await run(15_000)  # the same budget: already spent, nothing starts
    assert again.done == 0 and again.budget_spent
    more = await run(40_000)  # a larger one goes on where the run stopped
    assert more.done > 0 and more.skipped == first.done


def test_cli_budget_and_prices_options(counted, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("counted: {prompt: 1, completion: 2}\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["batch", str(SCENARIO), "-n", "20", "--out", str(out), "-m", "counted",
                                      "--max-turns", "4", "--concurrency", "1", "--budget", "1k",
                                      "--prices", str(prices)])
    assert result.exit_code == 0, result.output
    assert "stopped: budget spent" in result.output and "cost" in result.output
    assert json.loads((out / "batch.json").read_text())["usage"]["cost"]["unpriced_models"] == []
    evaluated = CliRunner().invoke(cli, ["evaluate", str(out), "--prices", str(prices)])
    assert evaluated.exit_code == 0 and "Tokens:" in evaluated.output and "cost" in evaluated.output
    assert json.loads((out / "evaluation.json").read_text())["usage"] == json.loads(
        (out / "batch.json").read_text())["usage"]
    reported = CliRunner().invoke(cli, ["report", str(out), "--prices", str(prices)])
    assert reported.exit_code == 0, reported.output
    assert "tokens (prompt + completion)" in (out / "report.html").read_text()


@pytest.mark.parametrize("budget, message", [("lots", "is not a budget"), ("0", "is not a budget"),
                                             ("cost:1", "needs --prices")])
def test_cli_bad_budgets(counted, tmp_path, budget, message):
    result = CliRunner().invoke(cli, ["batch", str(SCENARIO), "-n", "2", "--out", str(tmp_path / "r"),
                                      "-m", "counted", "--budget", budget])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "r" / "dialogs").exists()


async def test_the_persona_samplers_calls_count_apart(tmp_path):
    job = batch_job(load_scenario(ROOT / "scenarios" / "clinic_diverse.yaml"), model="scripted:auto", max_turns=2)
    await arun_batch(job, 3, tmp_path / "b", seed=5, progress=False)
    dialog = Dialog.from_file(tmp_path / "b" / "dialogs" / "1.json")
    sampler = [line for line in dialog_usage(dialog) if line.source == SAMPLER]
    assert len(sampler) == 1 and sampler[0].calls >= 1 and sampler[0].model == "scripted:auto"
    agents = [line for line in dialog_usage(dialog) if line.source == "agent"]
    assert sum(line.calls for line in agents) == sum(t.metadata.get("calls", 1) for t in dialog.turns)
    saved = json.loads((tmp_path / "b" / "batch.json").read_text())["usage"]["by_source"]
    assert saved["sampler"]["calls"] >= 3 and saved["total"]["calls"] == saved["sampler"]["calls"] + \
        saved["agent"]["calls"]


def test_report_cards_show_tokens_by_source_and_cost(counted, doctor, patient):
    from roleplay.viz.report import usage_overview

    dialogs = [pair(doctor, patient, max_turns=4).generate(seed=s) for s in (1, 2)]
    prompt = sum(t.metadata["prompt_tokens"] for d in dialogs for t in d.turns)
    cards = usage_overview(dialogs, PriceTable.from_mapping({"counted": 1_000_000}))
    assert cards["tokens (prompt + completion)"].startswith(f"{prompt:,} + ")
    completion = sum(t.metadata["completion_tokens"] for d in dialogs for t in d.turns)
    assert cards["cost"] == f"{prompt + completion:.4g}"
    assert "no price for counted" in usage_overview(dialogs, PriceTable.from_mapping({"x": 1}))["cost"]


def test_the_single_model_generator_records_every_attempts_tokens(scripted):
    from roleplay.generators import DialogGenerator

    good = json.dumps({"dialog": [{"speaker": "A", "text": f"turn {i}"} for i in range(4)]})
    model = scripted(replies=["not json", good])
    dialog = DialogGenerator(model, speakers=["A", "B"]).generate(seed=1)
    (line,) = dialog_usage(dialog)
    assert line.calls == 2 and line.completion_tokens == 2 + len(good.split()) == dialog.metadata["completion_tokens"]
    assert line.prompt_tokens == sum(len(t.split()) for r in model.client.history for _, _, t in r.messages)
