"""The fixes behind the bad-input suite (test_bad_inputs.py) that need more than one invocation to show.

A byte-order mark is accepted, the .txt format round-trips any turn, a variant grid is never listed,
--request-timeout bounds a run on a server that never answers, evaluate warns when the graph does not
fit the dialogues, and Ctrl-C on the real embedded model ends the run at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_client_pool import server  # noqa: F401 - a fixture: a local server that can hang

from roleplay import Dialog, Turn
from roleplay.cli import cli
from roleplay.errors import ConfigError
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
GOOD = "name: t\nagents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]\n"
DOT = 'digraph g {\n  graph [start="hi"];\n  hi [kind=global, template="Hi"];\n  bye [kind=action, goal=true];\n' \
      '  hi -> bye;\n}\n'


# --- encodings: a byte-order mark is fine --------------------------------------------------------------------
def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    (tmp_path / "p.yaml").write_bytes(b"\xef\xbb\xbfname: Ann\nrole: patient\n")
    (tmp_path / "s.yaml").write_bytes(("\ufeffname: t\nagents: [{name: A, persona: p.yaml}, {name: B}]\n").encode())
    scenario = load_scenario(tmp_path / "s.yaml")
    assert scenario.name == "t" and scenario.agent_specs()[0].persona.name == "Ann"
    (tmp_path / "d.txt").write_bytes("\ufeffA: hi\n".encode())
    assert Dialog.from_file(tmp_path / "d.txt").turns[0].speaker == "A"


# --- the .txt format round-trips any turn ---------------------------------------------------------------------
def test_txt_round_trips_newlines_and_speakers_with_colons(tmp_path):
    turns = [Turn("Dr: Who", "line one\nline two\n\n  indented"), Turn("A", "x: y"), Turn(None, "nobody"),
             Turn(" lead", "a"), Turn("back\\slash\\", "b"), Turn("A:", "c"), Turn("new\nline", "d\n"),
             Turn("B", ""), Turn("C", "  leading spaces")]
    Dialog(turns=turns).to_file(tmp_path / "d.txt")
    text = (tmp_path / "d.txt").read_text()
    assert text.startswith("Dr\\: Who: line one\n  line two\n  \n    indented\nA: x: y\n")
    assert [(t.speaker, t.text) for t in Dialog.from_file(tmp_path / "d.txt")] == [(t.speaker, t.text) for t in turns]


def test_txt_written_by_hand_still_reads(tmp_path):
    (tmp_path / "d.txt").write_text("Doctor: Hello.\n\nPatient: My head hurts.\n  Since Monday.\n")
    assert [(t.speaker, t.text) for t in Dialog.from_file(tmp_path / "d.txt")] == [
        ("Doctor", "Hello."), ("Patient", "My head hurts.\nSince Monday.")]


def test_txt_continuation_before_any_turn_is_a_clear_error(tmp_path):
    (tmp_path / "d.txt").write_text("  dangling\nA: hi\n")
    with pytest.raises(ConfigError, match="line 1 is not 'speaker: text'"):
        Dialog.from_file(tmp_path / "d.txt")


# --- variant grids are never enumerated --------------------------------------------------------------------------
def billion_grid(tmp_path) -> Path:
    lines = "".join(f"  {key}: [{', '.join(f'{key}-{v}' for v in range(10))}]\n"
                    for key in ("A.name", "A.role", "A.background", "A.personality", "A.circumstances", "A.rules",
                                "B.name", "B.role", "B.background"))
    path = tmp_path / "s.yaml"
    path.write_text(GOOD + "stop: {max_turns: 2}\nvariants:\n" + lines)
    return path


def test_a_billion_combination_grid_loads_without_listing_it(tmp_path, monkeypatch):
    from roleplay.variants import VariantGrid

    def refuse(self):
        raise AssertionError("the grid was enumerated")
    monkeypatch.setattr(VariantGrid, "__iter__", refuse)
    scenario = load_scenario(billion_grid(tmp_path))
    grid = scenario.grid()
    assert grid.size == len(grid) == 10**9
    assert grid[0]["A.name"] == "A.name-0" and grid[-1]["B.background"] == "B.background-9"
    assert grid[123_456_789] == {"A.background": "A.background-1", "A.circumstances": "A.circumstances-2",
                                 "A.name": "A.name-3", "A.personality": "A.personality-4", "A.role": "A.role-5",
                                 "A.rules": "A.rules-6", "B.background": "B.background-7", "B.name": "B.name-8",
                                 "B.role": "B.role-9"}
    variant, combination = scenario.variant(10**9 + 5)  # dialogue i plays combination i % size
    assert combination == grid[5] and variant.agent_specs()[1].persona.role == "B.role-5"
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "s.yaml"), "-n", "2", "-m", "scripted:auto",
                                      "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "1000000000 variant(s)" in result.output
    assert Dialog.from_file(tmp_path / "b" / "dialogs" / "1.json").metadata["variant"] == grid[1]
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "s.yaml"), "-m", "scripted:auto", "--out",
                                      str(tmp_path / "r"), "--seed", "3"])
    assert result.exit_code == 0, result.output


def test_the_grid_keeps_itertools_order(tmp_path):
    import itertools

    from roleplay.variants import VariantGrid

    variants = {"b": [1, 2, 3], "a": ["x", "y"], "c": [True]}
    expected = [dict(zip(sorted(variants), values, strict=True))
                for values in itertools.product(*(variants[k] for k in sorted(variants)))]
    grid = VariantGrid(variants)
    assert list(grid) == expected and grid[1:3] == expected[1:3] and VariantGrid({})[0] == {}
    with pytest.raises(IndexError):
        grid[6]


# --- --request-timeout against a server that never answers -----------------------------------------------------
def test_request_timeout_flag_bounds_run_and_batch(server, tmp_path, monkeypatch):  # noqa: F811 - the fixture
    url = server.url("hang") + "/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    (tmp_path / "s.yaml").write_text(GOOD + "model: openai:m\n")
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "s.yaml"), "--request-timeout", "0.2", "--seed", "1",
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "3 attempts of at most 0.2 s each" in result.output
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "s.yaml"), "-n", "1", "--request-timeout", "0.2",
                                      "--attempts", "1", "--base-url", url, "--out", str(tmp_path / "b")])
    assert result.exit_code == 1 and "1 dialogue(s) failed" in result.output
    failure = json.loads((tmp_path / "b" / "failures.jsonl").read_text().splitlines()[0])
    assert "at most 0.2 s each" in json.dumps(failure)


def test_request_timeout_in_the_scenario_reaches_the_backend(server, tmp_path, monkeypatch):  # noqa: F811 - the fixture
    monkeypatch.setenv("OPENAI_BASE_URL", server.url("hang") + "/v1")
    (tmp_path / "s.yaml").write_text(GOOD + "model: openai:m\nrequest_timeout: 0.2\n")
    dialog = load_scenario(tmp_path / "s.yaml").generator().generate(seed=1)
    assert "at most 0.2 s each" in dialog.metadata["error"]
    overridden = load_scenario(tmp_path / "s.yaml").generator(request_timeout=0.3).generate(seed=1)
    assert "at most 0.3 s each" in overridden.metadata["error"]


# --- evaluating against a graph the dialogues never used ----------------------------------------------------------
def test_evaluate_against_an_unrelated_graph_warns(tmp_path):
    folder = tmp_path / "d"
    Dialog(id=1, turns=[Turn("A", "hi"), Turn("B", "yo")]).to_file(folder / "1.json")
    Dialog(id=2, turns=[Turn("A", "hi", action="book_table")]).to_file(folder / "2.json")
    (tmp_path / "g.dot").write_text(DOT)
    result = CliRunner().invoke(cli, ["evaluate", str(folder), "--graph", str(tmp_path / "g.dot")])
    assert result.exit_code == 0, result.output
    assert "Warning: 1 of 2 dialogues record no policy action" in result.output
    assert "Warning: 1 of 2 dialogues took no action that is a node of the graph" in result.output
    saved = json.loads((folder / "evaluation.json").read_text())
    assert len(saved["warnings"]) == 2


def test_evaluate_on_dialogues_of_the_graph_does_not_warn(tmp_path):
    folder = tmp_path / "d"
    Dialog(id=1, turns=[Turn("A", "Hi", action="hi"), Turn("B", "yo"), Turn("A", "bye", action="bye")]) \
        .to_file(folder / "1.json")
    (tmp_path / "g.dot").write_text(DOT)
    result = CliRunner().invoke(cli, ["evaluate", str(folder), "--graph", str(tmp_path / "g.dot")])
    assert result.exit_code == 0 and "Warning" not in result.output, result.output


# --- Ctrl-C on the real embedded model ----------------------------------------------------------------------------
@pytest.mark.embedded
def test_ctrl_c_during_generation_stops_at_once_and_leaves_nothing_half_written(tmp_path):
    """SIGINT while the model evaluates a prompt or generates: exit 130, a note, no partial files.

    The bound is generous (a hang guard); bench/ctrl_c.py measures the latency (median 0.8 s).
    """
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "roleplay", "run", "doctor_patient", "--seed", "2",
                             "--max-turns", "30", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    first = next(line for line in proc.stdout if line.startswith("["))  # a turn is out: the next is being generated
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert first and proc.returncode == 130
    assert "Interrupted; nothing half-written was left behind." in err and "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []
