"""Branching: Dialog.fork, generators continuing a prefix, `roleplay branch`, and reports grouping branches."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay import Dialog
from roleplay.backends import register_backend
from roleplay.backends.scripted import scripted_model
from roleplay.cli import cli
from roleplay.dialog import Turn
from roleplay.errors import ConfigError
from roleplay.generators import PersonaDialogGenerator
from roleplay.guards import Guards
from roleplay.runs.batch import arun_batch
from roleplay.runs.jobs import batch_job
from roleplay.scenario import load_scenario
from roleplay.usage import agent_lines
from roleplay.viz.report import branch_notes

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "doctor_patient.yaml"


@pytest.fixture
def counting(monkeypatch):
    """A 'counting:' backend whose replies depend on the seed and on everything heard; returns its calls."""
    calls: list = []

    def factory(model, options):
        def script(request):
            calls.append(request)
            heard = [text for role, _, text in request.messages if role == "user"]
            return f"Reply {len(heard)} at seed {options.seed} to '{heard[-1][:20] if heard else ''}'."
        return scripted_model(fn=script, seed=options.seed, name="counting")
    register_backend("counting", factory)
    return calls


def generator(doctor, patient, **options):
    """Guards off: one model call per turn, so calls count turns."""
    return PersonaDialogGenerator("counting", doctor, patient, max_turns=10, guards=Guards(enabled=False), **options)


def test_fork_is_a_deep_copy_of_the_first_turns():
    parent = Dialog(id=3, seed=7, model="m", turns=[Turn("A", "one", metadata={"x": [1]}), Turn("B", "two")],
                    metadata={"variant": {"t": 1}, "seconds": 4.2})
    prefix = parent.fork(1)
    assert prefix.turns == parent.turns[:1] and prefix.parent_id == 3 and prefix.branched_at == 1
    assert prefix.metadata == {"variant": {"t": 1}} and prefix.seed == 7
    prefix.turns[0].metadata["x"].append(2)
    prefix.metadata["variant"]["t"] = 2
    assert parent.turns[0].metadata == {"x": [1]} and parent.metadata["variant"] == {"t": 1}


@pytest.mark.parametrize("bad", [-1, 3, 1.5, None, True])
def test_fork_outside_the_dialogue(bad):
    with pytest.raises(ConfigError, match="pass a whole number from 0 to 2"):
        Dialog(turns=[Turn("A", "x"), Turn("B", "y")]).fork(bad)


def test_a_branch_shares_its_first_turns_with_the_parent_and_calls_no_model_for_them(counting, doctor, patient):
    parent = generator(doctor, patient).generate(seed=1, id=0)
    before = parent.model_dump()
    counting.clear()
    branch = generator(doctor, patient).generate(seed=2, id="0-b1", prefix=parent.fork(6))
    assert len(counting) == 4 and len(branch.turns) == 10  # only the 4 new turns called the model
    assert [t.model_dump() for t in branch.turns[:6]] == [t.model_dump() for t in parent.turns[:6]]
    assert branch.turns[6].text != parent.turns[6].text  # a new seed goes elsewhere
    assert (branch.parent_id, branch.branched_at, branch.seed) == (0, 6, 2)
    assert parent.model_dump() == before  # the parent never changes
    first_new = counting[0]
    assert parent.turns[5].text in [text for _, _, text in first_new.messages]  # the prefix is remembered ...
    assert parent.turns[4].text in [text for role, _, text in first_new.messages if role == "assistant"]  # as said
    assert sum(line.calls for line in agent_lines(branch)) == 4  # its usage: its own turns only


def test_branching_a_cached_run_makes_no_call_for_the_prefix(counting, doctor, patient, tmp_path):
    cache = str(tmp_path / "cache")
    parent = generator(doctor, patient, cache_dir=cache).generate(seed=1, id=0)
    counting.clear()
    same = generator(doctor, patient, cache_dir=cache).generate(seed=1, id=0, prefix=parent.fork(8))
    assert len(counting) == 0  # the prefix is copied, the 2 new turns come from the cache
    assert [t.text for t in same.turns] == [t.text for t in parent.turns]


def test_a_branch_may_change_a_persona(counting, doctor, patient):
    parent = generator(doctor, patient).generate(seed=1, id=0)
    angry = patient.model_copy(update={"personality": "angry"})
    branch = generator(doctor, angry).generate(seed=1, prefix=parent.fork(4))
    assert branch.personas["Patient"]["personality"] == "angry"
    assert [t.text for t in branch.turns[:4]] == [t.text for t in parent.turns[:4]]


def test_a_prefix_must_be_a_dialogue_of_the_same_speakers(counting, doctor, patient):
    with pytest.raises(ConfigError, match="Nurse, who are not among"):
        generator(doctor, patient).generate(seed=1, prefix=Dialog(turns=[Turn("Nurse", "hi")]))
    with pytest.raises(ConfigError, match="must be a Dialog"):
        generator(doctor, patient).generate(seed=1, prefix=[Turn("Doctor", "hi")])


async def test_cli_branch_writes_branches_that_report_groups(counting, tmp_path):
    run = tmp_path / "run"
    await arun_batch(batch_job(load_scenario(SCENARIO), model="counting", max_turns=6), 2, run, progress=False,
                     params={"scenario": str(SCENARIO)})  # as `roleplay batch` records it
    out = tmp_path / "branches"
    result = CliRunner().invoke(cli, ["branch", str(run), "--at", "3", "--variants", "2", "--variants",
                                      "seed=99,Patient.personality=impatient", "--out", str(out), "-m", "counting",
                                      "--id", "1"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (out / "dialogs").glob("*.json"))
    assert files == ["1-b1.json", "1-b2.json", "1-b3.json"]
    parent = Dialog.from_file(run / "dialogs" / "1.json")
    third = Dialog.from_file(out / "dialogs" / "1-b3.json")
    assert (third.parent_id, third.branched_at, third.seed) == (1, 3, 99)
    assert third.personas["Patient"]["personality"] == "impatient"
    assert [t.model_dump() for t in third.turns[:3]] == [t.model_dump() for t in parent.turns[:3]]
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert {e["parent_id"] for e in index} == {1} and {e["branched_at"] for e in index} == {3}
    notes = branch_notes([parent, *(Dialog.from_file(out / "dialogs" / f) for f in files)])
    assert notes[0].startswith("Dialogue 1 and its 3 branch(es): 1-b1 (from turn 3")


@pytest.mark.parametrize("args, message", [(["--variants", "seed"], "key=value"),
                                           (["--variants", "seed=x"], "seed must be a whole number"),
                                           (["--variants", "2", "--at", "50"], "pass a whole number from 0 to")])
async def test_cli_branch_bad_input(counting, tmp_path, args, message):
    run = tmp_path / "run"
    await arun_batch(batch_job(load_scenario(SCENARIO), model="counting", max_turns=4), 1, run, progress=False)
    base = ["branch", str(run / "dialogs" / "0.json"), "--out", str(tmp_path / "b"), "--scenario", str(SCENARIO),
            "-m", "counting"]
    result = CliRunner().invoke(cli, base + (args if "--at" in args else [*args, "--at", "2"]))
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_the_single_model_generator_continues_a_prefix(scripted):
    from roleplay.generators import DialogGenerator

    reply = json.dumps({"dialog": [{"speaker": "A", "text": f"new {i}"} for i in range(4)]})
    model = scripted(replies=[reply])
    parent = Dialog(id=8, turns=[Turn("A", "hello"), Turn("B", "hi there"), Turn("A", "gone")])
    dialog = DialogGenerator(model, speakers=["A", "B"]).generate(seed=1, prefix=parent.fork(2))
    assert [t.text for t in dialog.turns] == ["hello", "hi there", "new 0", "new 1", "new 2", "new 3"]
    assert (dialog.parent_id, dialog.branched_at) == (8, 2)
    assert "A: hello\nB: hi there" in model.client.history[0].last


def test_a_dialogue_that_is_no_branch_saves_as_before(tmp_path):
    plain = Dialog(turns=[Turn("A", "x"), Turn("B", "y")])
    assert "parent_id" not in plain.model_dump_json() and "branched_at" not in plain.model_dump_json()
    branch = plain.fork(1)
    branch.to_file(tmp_path / "b.json")
    assert (Dialog.from_file(tmp_path / "b.json").parent_id, Dialog.from_file(tmp_path / "b.json").branched_at) == \
        (None, 1)


def test_a_prefix_under_a_policy_graph_is_refused_for_now(counting, doctor, patient):
    from roleplay.policy.graph import add_action, new_graph
    from roleplay.policy.orchestrator import Policy

    graph = new_graph("t", start="greet")
    add_action(graph, "greet")
    generator = PersonaDialogGenerator("counting", doctor, patient, policy=Policy.single("Doctor", graph))
    with pytest.raises(ConfigError, match="policy graph is not supported yet"):
        generator.generate(seed=1, prefix=Dialog(turns=[Turn("Doctor", "hello")]))
    assert counting == []  # refused before any model call
