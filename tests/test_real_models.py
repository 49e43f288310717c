"""Real models: the embedded SmolLM2 in-process, and the same GGUF behind llama.cpp's OpenAI-compatible server."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay import Dialog, StopReason
from roleplay.backends.llama_server import LlamaServers, embedded_model_path
from roleplay.cli import cli
from roleplay.generators import DialogGenerator, PersonaDialogGenerator
from roleplay.policy.graph import read_dot
from roleplay.runs.jobs import batch_job

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.embedded
def test_cli_simulation_on_the_embedded_model(tmp_path):
    out = tmp_path / "runs"
    args = ["run", str(SCENARIOS / "doctor_patient.yaml"), "--seed", "7", "--max-turns", "2", "--out", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    dialog = Dialog.from_file(out / "doctor_patient_7.json")
    assert dialog.model == "embedded" and dialog.seed == 7
    assert [t.speaker for t in dialog][:2] == ["Doctor", "Patient"]
    assert 1 <= len(dialog) <= 2 and all(t.text.strip() for t in dialog)
    assert dialog.stop_reason in (StopReason.MAX_TURNS, StopReason.END_SIGNAL)
    assert dialog.metadata["completion_tokens"] > 0 and dialog.metadata["tokens_per_second"] > 0
    assert (out / "doctor_patient_7.txt").read_text().splitlines()[0].startswith("Doctor: ")
    for turn in dialog:  # printed live, turn by turn
        assert f"[{turn.speaker}] {turn.text}" in result.output
    rerun = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert rerun.exit_code == 0
    assert [t.text for t in Dialog.from_file(out / "doctor_patient_7.json")] == [t.text for t in dialog]


@pytest.mark.embedded
def test_dialog_generator_gets_valid_json_from_the_grammar():
    dialog = DialogGenerator("embedded", "Two friends plan a picnic.", max_tokens=400, min_turns=2).generate(seed=2)
    assert isinstance(dialog, Dialog) and len(dialog) >= 2 and dialog.seed == 2


@pytest.mark.embedded
def test_tracker_keeps_the_embedded_model_on_its_graph(tmp_path):
    """The real model picks every Doctor action through the grammar's enum: no illegal turn is possible."""
    out = tmp_path / "runs"
    args = ["run", str(SCENARIOS / "doctor_intake.yaml"), "--seed", "3", "--max-turns", "4", "--out", str(out), "-q"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    dialog = Dialog.from_file(out / "doctor_intake_3.json")
    doctor = [t for t in dialog if t.speaker == "Doctor"]
    assert len(doctor) == 2
    graph = read_dot(SCENARIOS / "doctor_intake.dot")
    assert all(t.action in graph and t.metadata["legal"] for t in doctor)
    assert sum(bool(t.metadata.get("fallback")) for t in doctor) == 0  # the grammar gave valid JSON each time
    assert dialog.metadata["policy"]["legal_rate"] == 1.0 and dialog.metadata["policy"]["mode"] == "enforced"


@pytest.mark.embedded
def test_embedded_batch_is_the_same_at_any_concurrency_and_order(tmp_path):
    """Dialogues share one in-process server (one slot by default: with 8 slots, concurrency 8 changed every
    dialogue); the dialogue a seed gives must not depend on how many run beside it, nor on which ran before.
    Two turns: the second is the first whose prompt another dialogue's slot could have held."""
    from roleplay.runs.batch import run_batch
    from roleplay.scenario import load_scenario

    scenario = load_scenario(SCENARIOS / "doctor_patient.yaml")
    untimed = scenario.stop.model_copy(update={"timeout": None})  # under load the wall-clock limit cut dialogues
    job = batch_job(scenario.model_copy(update={"max_tokens": 16, "stop": untimed}), max_turns=2)
    texts = {}
    for label, n, concurrency in (("alone", 1, 1), ("c1", 5, 1), ("c5", 5, 5)):
        out = tmp_path / label
        seed = 5 if label == "alone" else 3  # "alone" runs only seed 5, dialogue 2 of the others
        assert run_batch(job, n, out, seed=seed, concurrency=concurrency, progress=False).done == n
        texts[label] = {int(p.stem): [t.text for t in Dialog.from_file(p)] for p in (out / "dialogs").glob("*.json")}
    assert texts["c1"] == texts["c5"]
    assert texts["alone"][0] == texts["c1"][2]
    lengths = [len(turns) for turns in texts["c1"].values()]  # the cap, or an agent's [END] before it
    assert set(lengths) <= {1, 2} and lengths.count(2) >= 3  # turn 2 is where a shared prompt cache showed


@pytest.fixture(scope="module")
def llama_server():
    """llama.cpp's own server (xllamacpp) on 127.0.0.1 at a free port, serving the embedded GGUF; stopped after
    the module. The tests reach it over HTTP only, as they would any OpenAI-compatible server."""
    with LlamaServers() as servers:
        yield servers.server(embedded_model_path(), 4096, 2, 2).url + "/v1"


@pytest.mark.server
def test_openai_compatible_server_roleplay_and_structured_output(llama_server, doctor, patient):
    dialog = PersonaDialogGenerator("openai:smollm", doctor, patient, base_url=llama_server,
                                    max_tokens=40).generate(seed=1, max_turns=3)
    assert [t.speaker for t in dialog] == ["Doctor", "Patient", "Doctor"]
    assert all(t.text for t in dialog) and dialog.metadata["completion_tokens"] > 0
    assert dialog.seed == 1 and dialog.model == "openai:smollm"
    written = DialogGenerator("openai:smollm", "Two friends meet.", base_url=llama_server, max_tokens=200,
                              repeat_penalty=1.15).generate(seed=2)  # the scenarios' penalty: no "Lena, Lena, ..."
    assert isinstance(written, Dialog) and len(written) >= 1


@pytest.mark.embedded
def test_embedded_honours_temperature_seed_max_tokens_and_repeat_penalty(monkeypatch):
    import asyncio

    from autogen_core.models import UserMessage

    from roleplay.backends import get_backend
    from roleplay.backends.llamacpp import LlamaCppClient

    sent = []
    model = get_backend("embedded", seed=9, temperature=0.3, max_tokens=12, repeat_penalty=1.15)
    original = LlamaCppClient._run
    monkeypatch.setattr(LlamaCppClient, "_run", lambda self, request: sent.append(request) or original(self, request))
    result = asyncio.run(model.create([UserMessage(content="Say hello.", source="user")]))
    assert sent[0]["seed"] == 9 and sent[0]["temperature"] == 0.3 and sent[0]["repeat_penalty"] == 1.15
    assert sent[0]["max_tokens"] == 12
    assert 0 < result.usage.completion_tokens <= 12
