"""Intent-driven synthesis on scripted models: both stages, turn counting, filters, resume, bad taxonomies."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay.backends import register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.cli import cli
from roleplay.errors import ConfigError, ScenarioError
from roleplay.evaluation import distinct_n
from roleplay.intent_chat import IntentChatGenerator, conversation_problem, load_taxonomy, to_dialog

ROOT = Path(__file__).resolve().parent.parent
TAXONOMY = {"categories": [{"name": "Travel", "intents": [
    {"name": "weekend_trip", "description": "plans a trip, then transport, then budget"},
    {"name": "visa", "description": "asks about a visa, then documents"}]}]}


def stage_script(calls, blank_first_answer=False):
    """Stage 1 returns numbered questions; stage 2 answers, quoting how many messages it saw."""
    def factory(model, options):
        def script(request):
            props = (request.schema or {}).get("properties", {})
            if "queries" in props:
                calls.append(("skeleton", options.seed))
                count = props["queries"]["minItems"]
                intent = request.last.split("Intent: ")[1].split(".")[0]
                return json.dumps({"queries": [f"{intent} question {i + 1} (seed {options.seed})?"
                                               for i in range(count)]})
            calls.append(("answer", options.seed))
            if blank_first_answer and sum(1 for c in calls if c[0] == "answer") == 1:
                return json.dumps({"answer": "   "})  # valid JSON, but an empty turn
            seen = request.last.count("\nuser: ") + request.last.count("\nassistant: ")
            return json.dumps({"answer": f"Answer after {seen} messages."})
        return scripted_model(fn=script, seed=options.seed)
    return factory


@pytest.fixture
def taxonomy_file(tmp_path):
    path = tmp_path / "intents.yaml"
    path.write_text(json.dumps(TAXONOMY))
    return path


@pytest.fixture
def calls(monkeypatch):
    recorded = []
    register_backend("stages", stage_script(recorded))
    return recorded


def test_two_stages_make_consistent_rows(calls, taxonomy_file, tmp_path):
    out = tmp_path / "chat.jsonl"
    generator = IntentChatGenerator("stages", num_dialogs_per_intent=2, num_turns_per_dialog=6,
                                    taxonomy=taxonomy_file, concurrency=2)
    rows = generator.generate(out)
    assert len(rows) == 4 and [r["intent"] for r in rows] == ["weekend_trip", "weekend_trip", "visa", "visa"]
    row = rows[0]
    assert set(row) == {"category", "intent", "conversation", "id", "seed", "model"}
    assert [m["role"] for m in row["conversation"]] == ["user", "assistant"] * 3
    assert row["conversation"][0]["value"].startswith("weekend_trip question 1")
    # each answer saw the whole conversation so far: 1, 3, then 5 messages
    assert [m["value"] for m in row["conversation"][1::2]] == [f"Answer after {n} messages." for n in (1, 3, 5)]
    assert sum(1 for kind, _ in calls if kind == "skeleton") == 4
    assert sum(1 for kind, _ in calls if kind == "answer") == 12
    dialog = to_dialog(row)
    assert dialog.speakers == ["user", "assistant"] and dialog.scenario["intent"] == "weekend_trip"
    report = json.loads((tmp_path / "chat.jsonl.report.json").read_text())
    assert report["conversations"] == 4 and report["dropped"] == 0 and 0 < report["distinct_2"] <= 1


def test_resume_reuses_finished_work(calls, taxonomy_file, tmp_path):
    out = tmp_path / "chat.jsonl"
    IntentChatGenerator("stages", num_dialogs_per_intent=1, num_turns_per_dialog=4, taxonomy=taxonomy_file).run(
        out, progress=False)
    calls.clear()
    report = IntentChatGenerator("stages", num_dialogs_per_intent=1, num_turns_per_dialog=4,
                                 taxonomy=taxonomy_file).run(out, progress=False)
    assert calls == [] and report["conversations"] == 2


def test_cached_skeleton_is_reused_after_a_crash_in_stage_two(calls, taxonomy_file, tmp_path):
    out = tmp_path / "chat.jsonl"
    parts = tmp_path / "chat.jsonl.parts" / "skeletons"
    parts.mkdir(parents=True)
    (parts / "0_0.json").write_text(json.dumps(["cached one?", "cached two?"]))
    rows = IntentChatGenerator("stages", num_dialogs_per_intent=1, num_turns_per_dialog=4,
                               taxonomy=taxonomy_file).generate(out)
    assert rows[0]["conversation"][0]["value"] == "cached one?"
    assert sum(1 for kind, _ in calls if kind == "skeleton") == 1  # only dialogue 1 needed stage 1


def test_filtered_conversation_is_regenerated(monkeypatch, taxonomy_file, tmp_path):
    recorded = []
    register_backend("stages", stage_script(recorded, blank_first_answer=True))
    report = IntentChatGenerator("stages", num_dialogs_per_intent=1, num_turns_per_dialog=4,
                                 taxonomy=taxonomy_file, concurrency=1).run(tmp_path / "c.jsonl", progress=False)
    assert report["conversations"] == 2 and report["regenerations_by_reason"] == {"empty_turn": 1}


@pytest.mark.parametrize("conversation, problem", [
    ([{"role": "user", "value": "a"}, {"role": "assistant", "value": "b"}], None),
    ([{"role": "user", "value": "a"}], "wrong_turn_count"),
    ([{"role": "user", "value": " "}, {"role": "assistant", "value": "b"}], "empty_turn"),
    ([{"role": "assistant", "value": "a"}, {"role": "user", "value": "b"}], "wrong_alternation"),
])
def test_filters(conversation, problem):
    assert conversation_problem(conversation, 2) == problem


@pytest.mark.parametrize("turns", [5, 0])
def test_turns_must_be_even(turns, taxonomy_file):
    with pytest.raises(ConfigError, match="must be even and >= 2"):
        IntentChatGenerator("stages", num_turns_per_dialog=turns, taxonomy=taxonomy_file)


@pytest.mark.parametrize("text, message", [
    ("categories: []", "categories: List should have at least 1 item"),
    ("categories: [{name: A, intents: [{name: x}]}]", "description: Field required"),
    ("categories: [{name: A, intents: [{name: x, description: y, mood: z}]}]", "mood: unknown field"),
    ("[broken", "not valid YAML"),
])
def test_bad_taxonomy(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_taxonomy(path)
    with pytest.raises(ScenarioError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "none.yaml")


def test_shipped_taxonomy_loads():
    taxonomy = load_taxonomy(ROOT / "scenarios" / "intents.yaml")
    assert len(taxonomy.categories) >= 3 and all(len(c.intents) >= 2 for c in taxonomy.categories)


def test_cli(calls, taxonomy_file, tmp_path):
    result = CliRunner().invoke(cli, ["intent-chat", "--taxonomy", str(taxonomy_file), "--per-intent", "1",
                                      "--turns", "2", "--out", str(tmp_path / "x.jsonl"), "--model", "stages"])
    assert result.exit_code == 0, result.output
    assert "Wrote 2 conversations (0 dropped" in result.output
    bad = CliRunner().invoke(cli, ["intent-chat", "--taxonomy", str(tmp_path / "no.yaml"), "--out", "x.jsonl"])
    assert bad.exit_code == 1 and "taxonomy file not found" in bad.output


def test_distinct_n():
    assert distinct_n(["a b a b"], 1) == 0.5
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3, abs=1e-4)
    assert distinct_n([], 1) is None
