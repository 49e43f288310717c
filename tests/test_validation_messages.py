"""Every bad scenario, persona, policy graph or sampling-rules file gets a message that names the field and the fix.

Each case is one bad file as a user would write it, read by the command a user would run (`roleplay run` for a
scenario and the personas it names, `roleplay graph` for DOT, `roleplay personas sample` for rules). The
message must name the field (``field``) and say what to write instead (``fix``: the field meant, the values
allowed, or where it goes), with no traceback and a non-zero exit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from roleplay.cli import cli

AGENTS = "agents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]\n"
GOOD = "name: t\n" + AGENTS
DOT = ('digraph g {{\n  graph [{graph}];\n  hi [kind=global, template="Hi"{hi}];\n  bye [kind=action, goal=true{bye}];'
       '\n  hi -> bye{edge};\n}}\n')


def dot(graph: str = 'start="hi"', hi: str = "", bye: str = "", edge: str = "") -> str:
    return DOT.format(graph=graph, hi=hi, bye=bye, edge=edge)


class Bad(NamedTuple):
    """One bad file (named s.yaml, p.yaml, g.dot or r.yaml), the field the message must name, and its fix."""

    text: str
    field: str  # a regular expression
    fix: str  # a regular expression


SCENARIOS = {
    "top-level max_turns": Bad(GOOD + "max_turns: 6\n", r"unknown field max_turns",
                               r"allowed: schema_version, name.*did you mean stop\.max_turns\?"),
    "top-level end_signal": Bad(GOOD + "end_signal: false\n", r"unknown field end_signal",
                                r"did you mean stop\.end_signal"),
    "top-level timeout": Bad(GOOD + "timeout: 30\n", r"unknown field timeout", r"did you mean stop\.timeout\?"),
    "top-level enforce": Bad(GOOD + "enforce: false\n", r"unknown field enforce", r"did you mean policy\.enforce\?"),
    "top-level graph": Bad(GOOD + "graph: g.dot\n", r"unknown field graph", r"did you mean policy\.graph\?"),
    "temperature misspelt": Bad(GOOD + "temprature: 0.5\n", r"unknown field temprature",
                                r"did you mean temperature\?"),
    "max_sentence": Bad(GOOD + "max_sentence: 2\n", r"unknown field max_sentence", r"did you mean max_sentences\?"),
    "first-speaker with a dash": Bad(GOOD + "first-speaker: A\n", r"unknown field first-speaker",
                                     r"did you mean first_speaker\?"),
    "an unrelated field": Bad(GOOD + "colour: red\n", r"unknown field colour", r"allowed: .*remove it"),
    "stop.max_turn": Bad(GOOD + "stop: {max_turn: 3}\n", r"unknown field stop\.max_turn",
                         r"allowed in stop: max_turns, end_signal, timeout\): did you mean max_turns\?"),
    "agent persna": Bad("name: t\nagents: [{name: A, persna: {role: a}}, {name: B}]\n",
                        r"unknown field agents\.0\.persna",
                        r"allowed in agents\.0: name, persona.*did you mean persona\?"),
    "agent modle": Bad("name: t\nagents: [{name: A, modle: x}, {name: B}]\n", r"unknown field agents\.0\.modle",
                       r"did you mean model\?"),
    "policy.enforced": Bad(GOOD + "policy: {agent: A, graph: g.dot, enforced: false}\n",
                           r"unknown field policy\.enforced", r"did you mean enforce\?"),
    "policy without graph": Bad(GOOD + "policy: {agent: A}\n", r"policy\.graph: Field required",
                                r"add graph: to policy \(DOT file, relative to the scenario\)"),
    "guards.resample": Bad(GOOD + "guards: {resample: 2}\n", r"unknown field guards\.resample",
                           r"did you mean resamples\?"),
    "memory.windw": Bad(GOOD + "memory: {A: {kindd: window}}\n", r"unknown field memory\.A\.kindd",
                        r"allowed in memory\.A: kind.*did you mean kind\?"),
    "inline example txt": Bad(GOOD + "examples: [[{speaker: A, txt: hi}]]\n", r"unknown field examples\.0\.0\.txt",
                              r"did you mean text\?"),
    "no name": Bad(AGENTS, r"name: Field required", r"add name: to the top level"),
    "max_turns 0": Bad(GOOD + "stop: {max_turns: 0}\n", r"stop\.max_turns", r"should be greater than or equal to 1"),
    "temperature as a word": Bad(GOOD + "temperature: hot\n", r"temperature", r"should be a valid number"),
    "variant of a misspelt field": Bad(GOOD + "variants: {temprature: [0.5]}\n", r"unknown field temprature",
                                       r"did you mean temperature\?"),
    "policy.enforce variant without policy": Bad(GOOD + "variants: {policy.enforce: [true, false]}\n",
                                                 r"variant 'policy\.enforce'", r"add a policy: section"),
    "schema_version 99": Bad(GOOD + "schema_version: 99\n", r"schema_version", r"Upgrade roleplay"),
}
PERSONAS = {
    "persona nmae": Bad("nmae: Ana\nrole: patient\n", r"unknown field 'nmae'",
                        r"did you mean 'name'\?.*Allowed fields"),
    "persona personalty": Bad("role: a\npersonalty: calm\n", r"unknown field 'personalty'",
                              r"did you mean 'personality'\?"),
    "persona role a list": Bad("role: [a, b]\n", r"field 'role'", r"should be a valid string"),
}
GRAPHS = {
    "gaol": Bad(dot(bye=", gaol=true"), r"attribute 'gaol'", r"Did you mean 'goal'\?"),
    "templte": Bad(dot(hi=', templte="x"'), r"attribute 'templte'", r"Did you mean 'template'\?"),
    "strt": Bad(dot(graph='strt="hi"'), r"attribute 'strt'", r"Did you mean 'start'\?"),
    "cuont": Bad(dot(edge=" [cuont=3]"), r"attribute 'cuont'", r"Did you mean 'count'\?"),
    "count abc": Bad(dot(edge=" [count=abc]"), r"count='abc'", r"write `hi -> bye \[count=3\]`"),
    "goal maybe": Bad(dot(bye=", goal=maybe"), r"goal='maybe'", r"goal is true or false"),
    "unknown start": Bad(dot(graph='start="nowhere"'), r"start node 'nowhere'", r"Fix `graph \[start=\.\.\.\]`"),
}
RULES = {
    "rules nme": Bad("rules:\n  nme: Ana\n", r"unknown field 'nme'", r"Did you mean 'name'\?"),
    "rule kind choise": Bad("rules:\n  name: {choise: [Ana, Bo]}\n", r"field 'name'", r"did you mean choice\?"),
    "rule weight": Bad("rules:\n  name: {choice: [Ana], weight: [1]}\n", r"field 'name'.*does not take weight",
                       r"it takes weights"),
    "rule weights count": Bad("rules:\n  name: {choice: [Ana, Bo], weights: [1]}\n", r"field 'name'",
                              r"give one weight per option"),
    "rules file clas": Bad("clas: x\nrules: {name: Ana}\n", r"Unknown field clas", r"did you mean class\?"),
    "rule llm 3": Bad("rules:\n  name: {llm: 3}\n", r"field 'name'", r"llm takes an instruction string"),
}


def command(kind: str, folder: Path) -> list[str]:
    return {"scenario": ["run", str(folder / "s.yaml"), "-m", "scripted:auto", "-q", "--out", str(folder / "o")],
            "persona": ["run", str(folder / "s.yaml"), "-m", "scripted:auto", "-q", "--out", str(folder / "o")],
            "graph": ["graph", str(folder / "g.dot")],
            "rules": ["personas", "sample", str(folder / "r.yaml"), "-n", "1", "-m", "scripted:auto"]}[kind]


def write(kind: str, text: str, folder: Path) -> None:
    if kind == "persona":
        (folder / "p.yaml").write_text(text)
        text = "name: t\nagents: [{name: A, persona: p.yaml}, {name: B}]\n"
    name = {"scenario": "s.yaml", "persona": "s.yaml", "graph": "g.dot", "rules": "r.yaml"}[kind]
    (folder / name).write_text(text)
    if kind == "scenario":
        (folder / "g.dot").write_text(dot())


CASES = [(kind, name, bad) for kind, table in (("scenario", SCENARIOS), ("persona", PERSONAS), ("graph", GRAPHS),
                                                ("rules", RULES)) for name, bad in table.items()]


def test_the_table_is_large_enough():
    assert len(CASES) >= 30 and {kind for kind, _, _ in CASES} == {"scenario", "persona", "graph", "rules"}


@pytest.mark.parametrize(("kind", "name", "bad"), CASES, ids=[f"{kind}/{name}" for kind, name, _ in CASES])
def test_the_message_names_the_field_and_the_fix(tmp_path, kind, name, bad):
    write(kind, bad.text, tmp_path)
    result = CliRunner().invoke(cli, command(kind, tmp_path))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert re.search(bad.field, result.output), f"the field is not named:\n{result.output}"
    assert re.search(bad.fix, result.output), f"the fix is not given:\n{result.output}"
