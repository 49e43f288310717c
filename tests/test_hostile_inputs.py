"""Hostile arguments to every CLI command: a clear error, no traceback, and no file outside ``--out`` changed.

The table extends tests/test_bad_inputs.py's (same runner, `run_case`) with the classes a hostile-input
probe found on the newer surfaces: YAML that explodes or repeats keys, sampling rules that fail only
when drawn, DOT attributes that were ignored, values that were silently accepted, huge counts. Each
case also snapshots its folder: the command may write only under the path given as ``out``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from test_bad_inputs import AGENTS, GOOD, ONE_DIALOG, make_files, run_case

from roleplay.cli import cli
from roleplay.dialog import Dialog, Turn

STAR = Path(__file__).parent / "fixtures" / "star_mini"
RUN = ["run", "{d}/s.yaml", "-m", "scripted:auto", "--out", "{d}/o", "--seed", "1"]
BATCH = ["batch", "{d}/s.yaml", "-n", "2", "-m", "scripted:auto", "--out", "{d}/b"]
STAR_GENERATE = ["star", "generate", "--star-path", str(STAR), "--out", "{d}/o", "-m", "scripted:auto"]
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)) + "name: t\n" + AGENTS
DEEP = "name: t\n" + AGENTS + "x: " + "[" * 20_000 + "]" * 20_000 + "\n"
DIGRAPH = 'digraph g {\n  graph [start="hi"];\n  hi [kind=action, template="Hi"];\n  bye [kind=action, goal=true];\n' \
          '  hi -> bye;\n}\n'
TWO = [Dialog(id=1, turns=[Turn("Doctor", "hi"), Turn("Patient", "hello")]).model_dump_json()]


def sampled(rule: str) -> str:
    return f"name: t\nagents: [{{name: A, sample: {{role: {rule}}}}}, {{name: B}}]\n"


class Hostile(NamedTuple):
    args: list[str]
    expect: str
    files: dict[str, str | bytes] = {}
    out: str | None = None  # the only path (relative to the case folder) the command may write under


HOSTILE: dict[str, Hostile] = {
    # --- YAML: one reader (roleplay/_yaml.py) for scenarios, personas, rules, taxonomies -----------------------------
    "yaml/alias-bomb": Hostile(RUN, r"s.yaml: holds more than 100000 values once its aliases", {"s.yaml": BOMB}),
    "yaml/alias-bomb-rules": Hostile(["personas", "sample", "{d}/r.yaml"], r"more than 100000 values",
                                     {"r.yaml": BOMB.replace("name: t\n" + AGENTS, "rules: {role: x}\n")}),
    "yaml/alias-bomb-taxonomy": Hostile(["intent-chat", "--taxonomy", "{d}/t.yaml", "--out", "{d}/o/x.jsonl"],
                                        r"more than 100000 values", {"t.yaml": BOMB}, "o"),
    "yaml/deep-nesting": Hostile(RUN, r"s.yaml: nested deeper than", {"s.yaml": DEEP}),
    "yaml/deep-nesting-batch": Hostile(BATCH, r"nested deeper than", {"s.yaml": DEEP}, "b"),
    "yaml/duplicate-key": Hostile(RUN, r"s.yaml: not valid YAML at line 3.*the key 'name' is given twice",
                                  {"s.yaml": GOOD + "name: u\n"}),
    "yaml/duplicate-persona-field": Hostile(RUN, r"the key 'role' is given twice",
                                            {"s.yaml": "name: t\nagents:\n- {name: A, persona: {role: a, role: b}}\n"
                                                       "- {name: B}\n"}),
    # --- sampling rules that failed only when drawn -----------------------------------------------------------------
    "rules/weights-nan": Hostile(RUN, r"field 'role': choice weights must be numbers >= 0 \(finite\)",
                                 {"s.yaml": sampled("{choice: [a, b], weights: [.nan, 1]}")}),
    "rules/weights-inf": Hostile(["personas", "sample", "{d}/s.yaml"], r"weights must be numbers >= 0 \(finite\)",
                                 {"s.yaml": sampled("{choice: [a, b], weights: [.inf, 1]}")}),
    "rules/range-inf": Hostile(RUN, r"range bounds must be numbers \(finite\)",
                               {"s.yaml": sampled("{range: [0, .inf]}")}),
    "rules/call-wrong-signature": Hostile(RUN, r"call builtins:len must take two arguments, fn\(partial, rng\)",
                                          {"s.yaml": sampled("{call: 'builtins:len'}")}),
    "rules/call-no-arguments": Hostile(["personas", "sample", "{d}/s.yaml"], r"must take two arguments",
                                       {"s.yaml": sampled("{call: 'os:getcwd'}")}),
    "rules/call-raises": Hostile(["personas", "sample", "{d}/s.yaml"], r"call _?operator:truediv failed: "
                                 r"TypeError", {"s.yaml": sampled("{call: 'operator:truediv'}")}),
    # --- DOT: attributes and shapes that were dropped or ignored --------------------------------------------------
    "dot/typo-attribute": Hostile(["graph", "{d}/g.dot"], r"Node bye has an unknown attribute 'gaol'. Did you "
                                  r"mean 'goal'\?", {"g.dot": DIGRAPH.replace("goal=true", "gaol=true")}),
    "dot/goal-maybe": Hostile(["graph", "{d}/g.dot"], r"Node bye has goal='maybe'; goal is true or false",
                              {"g.dot": DIGRAPH.replace("goal=true", "goal=maybe")}),
    "dot/when-perhaps": Hostile(["graph", "{d}/g.dot"], r"when='perhaps'; when is one of found, empty, yes, no, done",
                                {"g.dot": DIGRAPH.replace("goal=true", "goal=true, when=perhaps")}),
    "dot/edge-typo": Hostile(["graph", "{d}/g.dot"], r"Edge hi -> bye has an unknown attribute 'cuont'",
                             {"g.dot": DIGRAPH.replace("hi -> bye;", "hi -> bye [cuont=3];")}),
    "dot/graph-typo": Hostile(["graph", "{d}/g.dot"], r"The graph has an unknown attribute 'strat'. Did you mean "
                              r"'start'", {"g.dot": DIGRAPH.replace('start="hi"', 'strat="hi"')}),
    "dot/undirected": Hostile(["graph", "{d}/g.dot"], r"undirected", {"g.dot": DIGRAPH.replace("digraph", "graph")
                                                                     .replace("->", "--")}),
    "dot/undirected-in-scenario": Hostile(RUN, r"cannot load the policy graph.*undirected",
                                          {"s.yaml": "name: t\npolicy: {agent: A, graph: g.dot}\n" + AGENTS,
                                           "g.dot": DIGRAPH.replace("digraph", "graph").replace("->", "--")}),
    "dot/a-folder": Hostile(["graph", "{d}/graphs"], r"graphs: is a folder, but a DOT file is needed",
                            {"graphs/g.dot": DIGRAPH}),
    "dot/edge-to-a-group": Hostile(["graph", "{d}/g.dot"], r"one edge per pair",
                                   {"g.dot": DIGRAPH.replace("hi -> bye;", "hi -> {bye};")}),
    # --- values that should be refused -------------------------------------------------------------------------------
    "value/temperature-inf": Hostile(RUN, r"temperature: Input should be a finite number",
                                     {"s.yaml": GOOD + "temperature: .inf\n"}),
    "value/temperature-inf-batch": Hostile(BATCH, r"temperature: Input should be a finite number",
                                           {"s.yaml": GOOD + "temperature: .inf\n"}, "b"),
    "value/model-empty": Hostile([*RUN[:3], "", *RUN[4:]],
                                 r"Invalid value for '-m' / '--model' \(env var: 'ROLEPLAY_MODEL'\): is empty",
                                 {"s.yaml": GOOD}),
    "value/model-blank-batch": Hostile([*BATCH[:5], " ", *BATCH[6:]], r"is empty", {"s.yaml": GOOD}),
    "value/model-empty-star": Hostile([*STAR_GENERATE[:-1], ""], r"is empty"),
    "value/star-id-and-task": Hostile([*STAR_GENERATE, "--id", "1", "--task", "mini_book"],
                                      r"--id picks dialogues by id, and --task would be ignored"),
    "value/star-id-and-multitask": Hostile([*STAR_GENERATE, "--id", "1", "--multitask"],
                                           r"--multitask/--single-task would be ignored"),
    "value/star-id-and-happy": Hostile([*STAR_GENERATE, "--id", "1", "--unhappy"], r"--happy/--unhappy"),
    "value/roles-unknown-speaker": Hostile(["export", "{d}/d", "--format", "openai", "--out", "{d}/o/x.jsonl",
                                            "--roles", "Docter=assistant"],
                                           r"--roles names 'Docter', but no dialogue has such a speaker; the speakers "
                                           r"are: Doctor, Patient", {"d/1.json": TWO[0]}, "o"),
    "value/roles-no-speaker": Hostile(["export", "{d}/d", "--format", "openai", "--out", "{d}/o/x.jsonl", "--roles",
                                       "=user"], r"Bad role mapping '=user'", {"d/1.json": TWO[0]}, "o"),
    "value/export-duplicate-ids": Hostile(["export", "{d}/d", "--format", "jsonl", "--out", "{d}/o/x.jsonl"],
                                          r"1.json and .*copy.json both hold dialogue 1",
                                          {"d/1.json": TWO[0], "d/copy.json": TWO[0]}, "o"),
    "value/personas-huge-table": Hostile(["personas", "sample", "clinic_diverse", "-n", "100000000"],
                                         r"too many personas for a table.*--jsonl"),
    "value/personas-past-last-seed": Hostile(["personas", "sample", "clinic_diverse", "-n", "100", "--jsonl",
                                              "--seed", "4294967290"], r"past the largest seed"),
    "value/batch-past-last-seed": Hostile([*BATCH[:3], "10000000000000", *BATCH[4:]],
                                          r"seeds of this batch run from 0 to 9999999999999", {"s.yaml": GOOD}, "b"),
    "value/base-url-bad-port": Hostile([*BATCH[:5], "openai:m", *BATCH[6:], "--base-url", "http://127.0.0.1:x/v1"],
                                       r"base_url 'http://127.0.0.1:x/v1' has a bad port", {"s.yaml": GOOD}, "b"),
    "value/base-url-no-host": Hostile([*BATCH[:5], "openai:m", *BATCH[6:], "--base-url", "ftp://"],
                                      r"is not an http\(s\) URL with a host", {"s.yaml": GOOD}, "b"),
    # --- messages that named the wrong problem ------------------------------------------------------------------------
    "message/personas-bundled-without-sample": Hostile(["personas", "sample", "doctor_patient"],
                                                       r"doctor_patient has no agent with sample: \(its personas are "
                                                       r"fixed"),
    # --- the other commands ---------------------------------------------------------------------------------------
    "show/deep-json": Hostile(["show", "{d}/x.json"], r"x.json: not a valid dialogue JSON file.*recursion limit",
                              {"x.json": '{"turns": ' + "[" * 20_000 + "]" * 20_000 + "}"}),
    "report/undirected-graph": Hostile(["report", "{d}/d", "--graph", "{d}/g.dot", "--out", "{d}/o/r.html"],
                                       r"g.dot: The graph is undirected",
                                       {**ONE_DIALOG, "g.dot": "graph g { a -- b; }"}, "o"),
    "evaluate/undirected-graph": Hostile(["evaluate", "{d}/d", "--graph", "{d}/g.dot", "--out", "{d}/o/e"],
                                         r"undirected", {**ONE_DIALOG, "g.dot": "graph g { a -- b; }"}, "o"),
    "star/export-graphs-into-a-run": Hostile(["star", "export-graphs", "--star-path", str(STAR), "--out",
                                              "{d}/r/dialogs/g"], r"belongs to the run folder", {"r/index.jsonl": ""}),
    "scenarios/extra-argument": Hostile(["scenarios", "extra"], r"unexpected extra argument \(extra\)"),
    "backends/extra-argument": Hostile(["backends", "x"], r"unexpected extra argument \(x\)"),
    # --- outputs that would replace someone's file ---------------------------------------------------------------
    "output/intent-chat-over-a-file": Hostile(["intent-chat", "-m", "scripted:auto", "--out", "{d}/notes.jsonl"],
                                              r"notes.jsonl exists and was not written by intent-chat",
                                              {"notes.jsonl": "mine\n"}),
    "output/evaluate-into-dialogs": Hostile(["evaluate", "{d}/r", "--out", "{d}/r/dialogs/1"],
                                            r"belongs to the run folder",
                                            {"r/batch.json": "{}", "r/dialogs/1.json": ONE_DIALOG["d/1.json"]}),
}


def snapshot(folder: Path, skip: str | None) -> dict[str, str]:
    keep = None if skip is None else (folder / skip).resolve()
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and (keep is None or keep not in (p.resolve(), *p.resolve().parents))}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_cli_input_is_a_clear_error_that_changes_nothing_else(name, tmp_path, monkeypatch):
    case = HOSTILE[name]
    for variable in ("ROLEPLAY_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(variable, raising=False)
    make_files(tmp_path, case.files)
    before = snapshot(tmp_path, case.out)
    run_case(case.args, case.expect, tmp_path)
    assert snapshot(tmp_path, case.out) == before


# --- inputs that now work, and must keep working ---------------------------------------------------------------
def _graph(text: str, tmp_path: Path):
    from roleplay.policy.graph import read_dot

    (tmp_path / "g.dot").write_text(text, encoding="utf-8")
    return read_dot(tmp_path / "g.dot")


def test_dot_subgraph_contents_are_read(tmp_path):
    graph = _graph('digraph g { graph [start="hi"]; subgraph cluster_x { hi [kind=action, template="Hi"]; '
                   'ask [template="Why?"]; hi -> ask; } ask -> bye; bye [goal=true]; }\n', tmp_path)
    assert sorted(graph.nodes) == ["ask", "bye", "hi"]
    assert graph.nodes["ask"]["template"] == "Why?" and graph.has_edge("hi", "ask")


def test_dot_nodes_named_like_keywords_keep_their_attributes(tmp_path):
    graph = _graph('digraph g { graph [start="edge"]; "edge" [template="E"]; "node" [goal=true]; '
                   '"edge" -> "node"; }\n', tmp_path)
    assert graph.nodes["edge"]["template"] == "E" and graph.nodes["node"]["goal"] is True


def test_dot_with_a_byte_order_mark_and_drawing_attributes_reads(tmp_path):
    graph = _graph("\ufeff" + DIGRAPH.replace("goal=true", 'goal=true, color=red, label="Bye"'), tmp_path)
    assert graph.nodes["bye"]["goal"] is True


def test_library_deprecation_warnings_stay_hidden(tmp_path):
    (tmp_path / "g.dot").write_text(DIGRAPH, encoding="utf-8")
    result = CliRunner().invoke(cli, ["graph", str(tmp_path / "g.dot")])
    assert result.exit_code == 0 and "Warning" not in result.output, result.output


def test_run_shows_the_warnings_the_graph_command_shows(tmp_path):
    unreachable = DIGRAPH.replace("hi -> bye;", "hi -> bye;\n  lost [template=\"x\"];")
    make_files(tmp_path, {"s.yaml": "name: t\npolicy: {agent: A, graph: g.dot}\n" + AGENTS, "g.dot": unreachable})
    for args in (["graph", str(tmp_path / "g.dot")], ["run", str(tmp_path / "s.yaml"), "-m", "scripted:auto",
                                                      "--out", str(tmp_path / "o"), "--seed", "1", "-q"]):
        result = CliRunner().invoke(cli, args)
        assert "Warning: " in result.output and "not reachable from start 'hi': lost" in result.output, args


ESCAPES = "\x1b[2J\x1b]0;pwned\x07 hello\r"


def test_terminal_escapes_in_a_dialogue_are_shown_not_obeyed(tmp_path):
    Dialog(id=1, turns=[Turn("A\x1b[31m", ESCAPES)]).to_file(tmp_path / "x.json")
    result = CliRunner().invoke(cli, ["show", str(tmp_path / "x.json")])
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output and "\r" not in result.output
    assert "\\x1b[2J\\x1b]0;pwned\\x07 hello\\x0d" in result.output


def _run_with_replies(tmp_path, monkeypatch, reply: str):
    """`roleplay run` with scripted:auto answering ``reply`` to every request."""
    monkeypatch.setattr("roleplay.backends.scripted.auto_reply", lambda request: reply)
    (tmp_path / "s.yaml").write_text(GOOD + "stop: {max_turns: 2}\n", encoding="utf-8")
    return CliRunner().invoke(cli, ["run", str(tmp_path / "s.yaml"), "-m", "scripted:auto", "--out",
                                    str(tmp_path / "o"), "--seed", "1"])


def test_run_prints_escapes_from_the_model_as_text(tmp_path, monkeypatch):
    result = _run_with_replies(tmp_path, monkeypatch, "\x1b[2J Hi there, how are you?")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "\x1b" not in result.output and "\\x1b[2J" in result.output, result.output


def test_a_lone_surrogate_from_the_model_is_saved_as_the_replacement_character(tmp_path, monkeypatch):
    result = _run_with_replies(tmp_path, monkeypatch, "Fine \ud800 thanks, and you?")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    saved = Dialog.from_file(next((tmp_path / "o").glob("*.json")))
    assert saved.turns and all("\ud800" not in t.text for t in saved.turns)
    assert "\ufffd" in saved.turns[0].text


def test_a_txt_round_trip_keeps_every_turn_when_text_holds_carriage_returns(tmp_path):
    dialog = Dialog(turns=[Turn("A", "one\rtwo\r\nthree"), Turn("B\rX", "ok")])
    back = Dialog.from_file(dialog.to_file(tmp_path / "x.txt"))
    assert [(t.speaker, t.text) for t in back.turns] == [("A", "one\ntwo\nthree"), ("B\rX", "ok")]


def test_a_lone_surrogate_in_a_turn_is_saved_as_the_replacement_character(tmp_path):
    dialog = Dialog(turns=[Turn("A", "bad \ud800 text")])
    for name in ("x.json", "x.txt"):
        assert Dialog.from_file(dialog.to_file(tmp_path / name)).turns[0].text == "bad \ufffd text"


def test_dialog_print_shows_escapes_as_text(capsys):
    Dialog(id=1, turns=[Turn("A\x1b[31m", ESCAPES)]).print()
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\r" not in printed
    assert "[A\\x1b[31m] \\x1b[2J\\x1b]0;pwned\\x07 hello\\x0d" in printed


def test_an_error_quoting_outside_text_shows_its_escapes_as_text(tmp_path):
    result = CliRunner().invoke(cli, ["show", str(tmp_path / "x\x1b[2J.json")])
    assert result.exit_code != 0 and "\x1b" not in result.output and "x\\x1b[2J.json" in result.output


def test_sampled_personas_are_tabled_with_escapes_as_text(tmp_path):
    (tmp_path / "s.yaml").write_text(sampled('{choice: ["\\e[2J a", "b\\a"]}'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["personas", "sample", str(tmp_path / "s.yaml"), "-n", "6"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\\x1b[2J a" in result.output


def test_the_person_in_the_loop_sees_the_others_escapes_as_text():
    from roleplay.backends.human import human_model
    from roleplay.backends.scripted import scripted_model
    from roleplay.generators import AgentSpec, PersonaDialogGenerator
    from roleplay.personas import Persona

    screen: list[str] = []
    PersonaDialogGenerator(agents=[
        AgentSpec(name="Doctor", persona=Persona(name="Doctor"), model=scripted_model(replies=["\x1b[2J Hello."])),
        AgentSpec(name="Patient", persona=Persona(name="Patient"), model=human_model("Patient", lambda _: "/end",
                                                                                     screen.append)),
    ]).generate(seed=1)
    assert screen[0] == "[Doctor] \\x1b[2J Hello."
