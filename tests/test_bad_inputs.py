"""Bad input of every class (issue 12) against the CLI and the Python API: a clear error, never a traceback.

Each CLI case runs the `roleplay` command in-process (click's runner keeps any exception that escapes
the command, so a traceback cannot hide) and must exit non-zero with a message that names the problem.
Run folders, exports and STAR are covered in test_bad_inputs_runs.py, hanging and failing servers in
test_client_pool.py, the fixes that need more than one call to show in test_bad_inputs_fixes.py; here
are the inputs a user types or writes, and the Python API called wrongly.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from click.testing import CliRunner

from roleplay import Dialog, Persona, Turn
from roleplay.cli import cli
from roleplay.errors import ConfigError, PersonaError, ScenarioError
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
STAR = Path(__file__).parent / "fixtures" / "star_mini"
AGENTS = "agents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]\n"
GOOD = "name: t\n" + AGENTS
DOT = 'digraph g {\n  graph [start="hi"];\n  hi [kind=global, template="Hi"];\n  bye [kind=action, goal=true];\n' \
      '  hi -> bye;\n}\n'
POLICY = "name: t\npolicy: {agent: A, graph: g.dot}\n" + AGENTS
BINARY = b"\xff\xfe\x00\x89PNG\r\n\x1a\n\x00\x00binary"


class Case(NamedTuple):
    """One bad CLI invocation: its arguments ({d} is the case's folder), the files it needs, the expected message."""

    args: list[str]
    expect: str  # a regular expression the output must match
    files: dict[str, str | bytes] = {}


def run_case(args: list[str], expect: str, folder: Path) -> str:
    result = CliRunner().invoke(cli, [a.replace("{d}", str(folder)) for a in args])
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    shown = "".join(traceback.format_exception(escaped)) if escaped else ""
    assert escaped is None, f"an exception escaped the CLI:\n{shown}"
    assert "Traceback" not in result.output
    assert result.exit_code != 0, result.output
    assert re.search(expect, result.output), result.output
    return result.output


def make_files(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


RUN = ["run", "{d}/s.yaml", "-m", "scripted:auto", "--out", "{d}/o", "--seed", "1"]
BATCH = ["batch", "{d}/s.yaml", "-n", "2", "-m", "scripted:auto", "--out", "{d}/b"]
ONE_DIALOG = {"d/1.json": Dialog(id=1, turns=[Turn("A", "hi")]).model_dump_json()}

CASES: dict[str, Case] = {
    # --- decode errors: binary, other encodings ------------------------------------------------------------
    "decode/scenario-binary": Case(RUN, r"s.yaml: not a UTF-8 text file", {"s.yaml": BINARY}),
    "decode/scenario-utf16": Case(RUN, r"not a UTF-8 text file", {"s.yaml": GOOD.encode("utf-16")}),
    "decode/scenario-latin1": Case(RUN, r"not a UTF-8 text file", {"s.yaml": "name: café\n".encode("latin-1") +
                                                                     AGENTS.encode()}),
    "decode/persona-binary": Case(RUN, r"p.yaml: not a UTF-8 text file",
                                  {"s.yaml": "name: t\nagents: [{name: A, persona: p.yaml}, {name: B}]\n",
                                   "p.yaml": BINARY}),
    "decode/batch-scenario": Case(BATCH, r"not a UTF-8 text file", {"s.yaml": BINARY}),
    "decode/example-dialogue": Case(RUN, r"cannot read example dialogue 'e.txt'.*not a UTF-8 text file",
                                    {"s.yaml": GOOD + "examples: [e.txt]\n", "e.txt": BINARY}),
    "decode/show-json": Case(["show", "{d}/x.json"], r"x.json: not a UTF-8 text file", {"x.json": BINARY}),
    "decode/show-txt": Case(["show", "{d}/x.txt"], r"x.txt: not a UTF-8 text file", {"x.txt": BINARY}),
    "decode/graph-dot": Case(["graph", "{d}/g.dot"], r"g.dot.*(UTF-8|decode)", {"g.dot": BINARY}),
    "decode/policy-dot": Case(RUN, r"g.dot.*(UTF-8|decode)", {"s.yaml": POLICY, "g.dot": BINARY}),
    "decode/evaluate-graph": Case(["evaluate", "{d}/d", "--graph", "{d}/g.dot"], r"g.dot.*(UTF-8|decode)",
                                  {**ONE_DIALOG, "g.dot": BINARY}),
    "decode/rules-file": Case(["personas", "sample", "{d}/r.yaml"], r"r.yaml: not a UTF-8 text file",
                              {"r.yaml": BINARY}),
    "decode/rules-lines-file": Case(RUN, r"c.txt' is not UTF-8 text",
                                    {"s.yaml": "name: t\n"
                                               "agents: [{name: A, sample: {role: {file: c.txt}}}, {name: B}]\n",
                                     "c.txt": BINARY}),
    "decode/rules-csv-file": Case(RUN, r"o.csv' is not UTF-8 text",
                                  {"s.yaml": "name: t\nagents: [{name: A, sample: {role: {csv: o.csv, column: t}}},\n"
                                             "         {name: B}]\n",
                                   "o.csv": b"t\n" + BINARY}),
    "decode/export-dialogue": Case(["export", "{d}/d", "--format", "jsonl", "--out", "{d}/x.jsonl"],
                                   r"1.json: not a UTF-8 text file", {"d/1.json": BINARY}),
    # --- OS errors: folders for files, files for folders, missing parents --------------------------------------
    "os/run-out-is-a-file": Case(RUN, r"output folder .*o: .*o is a file, not a folder; pass a writable",
                                 {"s.yaml": GOOD, "o": "x"}),
    "os/run-out-under-a-file": Case(["run", "{d}/s.yaml", "-m", "scripted:auto", "--out", "{d}/f/o"],
                                    r"output folder .*f/o: .*f is a file, not a folder",
                                    {"s.yaml": GOOD, "f": "x"}),
    "os/batch-out-is-a-file": Case(BATCH, r"is a file, but a folder is needed", {"s.yaml": GOOD, "b": "x"}),
    "os/scenario-is-a-folder": Case(["run", "{d}/s.yaml"], r"s.yaml: is a folder", {"s.yaml/": ""}),
    "os/persona-is-a-folder": Case(RUN, r"p.yaml: is a folder",
                                   {"s.yaml": "name: t\nagents: [{name: A, persona: p.yaml}, {name: B}]\n",
                                    "p.yaml/": ""}),
    "os/show-a-folder": Case(["show", "{d}/x.json"], r"x.json: is a folder, but a dialogue file", {"x.json/": ""}),
    "os/export-out-is-a-folder": Case(["export", "{d}/d", "--format", "jsonl", "--out", "{d}/x"],
                                      r"is a folder, but a file is needed", {**ONE_DIALOG, "x/": ""}),
    "os/export-out-under-a-file": Case(["export", "{d}/d", "--format", "jsonl", "--out", "{d}/f/x.jsonl"],
                                       r"is a file, not a folder", {**ONE_DIALOG, "f": "x"}),
    "os/evaluate-out-under-a-file": Case(["evaluate", "{d}/d", "--out", "{d}/f/r"], r"is a file, not a folder",
                                         {**ONE_DIALOG, "f": "x"}),
    "os/cache-is-a-file": Case([*BATCH, "--cache", "{d}/c"], r"cache .*c is a file", {"s.yaml": GOOD, "c": "x"}),
    "os/graph-is-a-folder": Case(["graph", "{d}/g.dot"], r"g.dot", {"g.dot/": ""}),
    "os/star-path-is-a-file": Case(["star", "generate", "--star-path", "{d}/star", "--out", "{d}/o"], r"star",
                                   {"star": "x"}),
    "os/report-out-under-a-file": Case(["report", "{d}/d", "--out", "{d}/f/r.html"], r"is a file, not a folder",
                                       {**ONE_DIALOG, "f": "x"}),
    # --- missing files ------------------------------------------------------------------------------------------
    "missing/scenario": Case(["run", "{d}/none.yaml"], r"scenario file not found"),
    "missing/bundled-name": Case(["run", "doctor_patien"], r"scenario file not found.*doctor_patient"),
    "missing/batch-scenario": Case(["batch", "{d}/none.yaml", "-n", "1", "--out", "{d}/b"], r"not found"),
    "missing/persona": Case(RUN, r"nowhere.yaml: persona file not found",
                            {"s.yaml": "name: t\nagents: [{name: A, persona: nowhere.yaml}, {name: B}]\n"}),
    "missing/policy-graph": Case(RUN, r"g.dot", {"s.yaml": POLICY}),
    "missing/example": Case(RUN, r"cannot read example dialogue 'e.txt'", {"s.yaml": GOOD + "examples: [e.txt]\n"}),
    "missing/rules-file": Case(RUN, r"r.yaml", {"s.yaml": "name: t\nagents: [{name: A, sample: r.yaml}, {name: B}]\n"}),
    "missing/show": Case(["show", "{d}/none.json"], r"no such file"),
    "missing/export-folder": Case(["export", "{d}/none", "--format", "jsonl", "--out", "{d}/x.jsonl"], r"none"),
    "missing/evaluate-folder": Case(["evaluate", "{d}/none"], r"none"),
    "missing/evaluate-graph": Case(["evaluate", "{d}/d", "--graph", "{d}/none.dot"], r"none.dot", ONE_DIALOG),
    "missing/graph": Case(["graph", "{d}/none.dot"], r"none.dot"),
    "missing/star-path": Case(["star", "generate", "--star-path", "{d}/none", "--out", "{d}/o"], r"none"),
    "missing/taxonomy": Case(["intent-chat", "--taxonomy", "{d}/none.yaml", "--out", "{d}/x.jsonl"], r"none.yaml"),
    "missing/report-folder": Case(["report", "{d}/none"], r"none"),
    # --- scenario content -----------------------------------------------------------------------------------------
    "scenario/yaml-syntax": Case(RUN, r"s.yaml: not valid YAML at line 2, column 9",
                                 {"s.yaml": "name: t\n  agents: : [\n"}),
    "scenario/yaml-unclosed": Case(RUN, r"not valid YAML at line \d+", {"s.yaml": "name: [t\n"}),
    "scenario/tab-indent": Case(RUN, r"not valid YAML at line 2", {"s.yaml": "name: t\n\tagents: []\n"}),
    "scenario/empty-file": Case(RUN, r"must be a YAML mapping", {"s.yaml": ""}),
    "scenario/a-list": Case(RUN, r"must be a YAML mapping", {"s.yaml": "- a\n- b\n"}),
    "scenario/a-string": Case(RUN, r"must be a YAML mapping", {"s.yaml": "hello\n"}),
    "scenario/unknown-field": Case(RUN, r"unknown field colour \(allowed: .*\): remove it",
                                   {"s.yaml": GOOD + "colour: red\n"}),
    "scenario/no-name": Case(RUN, r"name: Field required", {"s.yaml": AGENTS}),
    "scenario/one-agent": Case(RUN, r"agents: List should have at least 2 items",
                               {"s.yaml": "name: t\nagents: [{name: A, persona: {role: a}}]\n"}),
    "scenario/agents-not-a-list": Case(RUN, r"agents: Input should be a valid list",
                                       {"s.yaml": "name: t\nagents: 3\n"}),
    "scenario/persona-unknown-field": Case(RUN, r"unknown field 'mood'",
                                           {"s.yaml": "name: t\nagents: [{persona: {role: a, mood: x}}, {name: B}]\n"}),
    "scenario/persona-a-number": Case(RUN, r"persona",
                                      {"s.yaml": "name: t\nagents: [{name: A, persona: 3}, {name: B}]\n"}),
    "scenario/nameless-agent": Case(RUN, r"agent 1 has no name.*give it a name",
                                    {"s.yaml": "name: t\nagents: [{persona: {}}, {name: B}]\n"}),
    "scenario/duplicate-agents": Case(RUN, r"s.yaml: Agents 'A' and 'A' have the same name",
                                      {"s.yaml": "name: t\nagents: [{name: A}, {name: A}]\n"}),
    "scenario/director-agent": Case(RUN, r"s.yaml: .*'director' is reserved",
                                    {"s.yaml": "name: t\nagents: [{name: director}, {name: B}]\n"}),
    "scenario/Director-agent": Case(RUN, r"'Director' is reserved",
                                    {"s.yaml": "name: t\nagents: [{name: Director}, {name: B}]\n"}),
    "scenario/punctuation-name": Case(RUN, r"has no letters or digits",
                                      {"s.yaml": "name: t\nagents: [{name: '!!'}, {name: B}]\n"}),
    "scenario/first-speaker": Case(RUN, r"first_speaker 'Zed' is not one of the agents",
                                   {"s.yaml": GOOD + "first_speaker: Zed\n"}),
    "scenario/schema-version-99": Case(RUN, r"schema_version 99 is not supported.*schema_version 1",
                                       {"s.yaml": GOOD + "schema_version: 99\n"}),
    "scenario/max-turns-0": Case(RUN, r"stop.max_turns: Input should be greater than or equal to 1",
                                 {"s.yaml": GOOD + "stop: {max_turns: 0}\n"}),
    "scenario/max-turns-text": Case(RUN, r"stop.max_turns: Input should be a valid integer",
                                    {"s.yaml": GOOD + "stop: {max_turns: many}\n"}),
    "scenario/negative-timeout": Case(RUN, r"stop.timeout: Input should be greater than 0",
                                      {"s.yaml": GOOD + "stop: {timeout: -5}\n"}),
    "scenario/negative-temperature": Case(RUN, r"s.yaml: invalid scenario \(temperature: Input should be greater than",
                                          {"s.yaml": GOOD + "temperature: -1\n"}),
    "scenario/request-timeout-0": Case(RUN, r"request_timeout: Input should be greater than 0",
                                       {"s.yaml": GOOD + "request_timeout: 0\n"}),
    "scenario/empty-variant": Case(RUN, r"temperature has no values",
                                   {"s.yaml": GOOD + "variants: {temperature: []}\n"}),
    "scenario/variant-not-a-list": Case(RUN, r"variants.temperature: Input should be a valid list",
                                        {"s.yaml": GOOD + "variants: {temperature: 0.5}\n"}),
    "scenario/variant-unknown-agent": Case(RUN, r"names agent 'C'", {"s.yaml": GOOD + "variants: {C.role: [x]}\n"}),
    "scenario/variant-unknown-field": Case(RUN, r"unknown field 'mood'",
                                           {"s.yaml": GOOD + "variants: {A.mood: [x]}\n"}),
    "scenario/variant-bad-value": Case(RUN, r"makes the scenario invalid.*max_tokens",
                                       {"s.yaml": GOOD + "variants: {max_tokens: [10, -1]}\n"}),
    "scenario/persona-class": Case(RUN, r"no module named 'nowhere'",
                                   {"s.yaml": "name: t\nagents: [{name: A, class: 'nowhere:X'}, {name: B}]\n"}),
    "scenario/persona-class-not-persona": Case(RUN, r"not a subclass of BasePersona",
                                               {"s.yaml": "name: t\n"
                                                          "agents: [{name: A, class: 'pathlib:Path'}, {name: B}]\n"}),
    "scenario/policy-agent": Case(RUN, r"policy.agent 'Z' is not one of the agents",
                                  {"s.yaml": "name: t\npolicy: {agent: Z, graph: g.dot}\n" + AGENTS, "g.dot": DOT}),
    "scenario/example-bad-line": Case(RUN, r"e.txt.*line 1 is not 'speaker: text'",
                                      {"s.yaml": GOOD + "examples: [e.txt]\n", "e.txt": "no separator here\n"}),
    "scenario/example-extension": Case(RUN, r"unknown extension '.md'", {"s.yaml": GOOD + "examples: [e.md]\n",
                                       "e.md": "A: x\n"}),
    "scenario/persona-file-a-list": Case(RUN, r"p.yaml: a persona must be a mapping",
                                         {"s.yaml": "name: t\nagents: [{name: A, persona: p.yaml}, {name: B}]\n",
                                          "p.yaml": "- a\n- b\n"}),
    "scenario/persona-field-a-list": Case(RUN, r"field 'role': Input should be a valid string",
                                          {"s.yaml": "name: t\n"
                                                     "agents: [{name: A, persona: {role: [1, 2]}}, {name: B}]\n"}),
    "scenario/stop-not-a-mapping": Case(RUN, r"stop: Input should be a valid dictionary",
                                        {"s.yaml": GOOD + "stop: 5\n"}),
    "scenario/model-a-number": Case(RUN, r"model: Input should be a valid string", {"s.yaml": GOOD + "model: 3\n"}),
    "scenario/schema-version-text": Case(RUN, r"schema_version: Input should be a valid integer",
                                         {"s.yaml": GOOD + "schema_version: one\n"}),
    "scenario/policy-without-graph": Case(RUN, r"policy.graph: Field required",
                                          {"s.yaml": GOOD + "policy: {agent: A}\n"}),
    "scenario/inline-example-no-text": Case(RUN, r"examples.0.*text: Field required",
                                           {"s.yaml": GOOD + "examples: [[{speaker: A}]]\n"}),
    "scenario/example-newer-schema": Case(RUN, r"e.json.*schema_version 99 is not supported",
                                          {"s.yaml": GOOD + "examples: [e.json]\n",
                                           "e.json": '{"schema_version": 99}'}),
    "scenario/guards-unknown": Case(RUN, r"unknown field guards.nearcopy \(allowed in guards: .*\): did you mean "
                                         r"near_copy\?",
                                    {"s.yaml": GOOD + "guards: {nearcopy: 80}\n"}),
    "scenario/sample-without-name": Case(RUN, r"needs a name",
                                         {"s.yaml": "name: t\nagents: [{sample: {}}, {name: B}]\n"}),
    "scenario/max-tokens-0": Case(RUN, r"max_tokens: Input should be greater than 0",
                                  {"s.yaml": GOOD + "max_tokens: 0\n"}),
    "scenario/context-window-text": Case(RUN, r"context_window: Input should be a valid integer",
                                         {"s.yaml": GOOD + "context_window: all\n"}),
    # --- policy graphs (DOT) -------------------------------------------------------------------------------------
    "graph/syntax": Case(["graph", "{d}/g.dot"], r"g.dot", {"g.dot": "digraph { a -> \n"}),
    "graph/empty": Case(["graph", "{d}/g.dot"], r"g.dot", {"g.dot": ""}),
    "graph/count-abc": Case(["graph",
                            "{d}/g.dot"], r"count", {"g.dot": DOT.replace("hi -> bye;", "hi -> bye [count=abc];")}),
    "graph/start-is-outcome": Case(["graph", "{d}/g.dot"], r"start",
                                   {"g.dot": DOT.replace('hi [kind=global, template="Hi"]', "hi [kind=outcome]")}),
    "graph/unknown-start": Case(["graph",
                                "{d}/g.dot"], r"nowhere", {"g.dot": DOT.replace('start="hi"', 'start="nowhere"')}),
    "graph/unknown-kind": Case(["graph", "{d}/g.dot"], r"kind", {"g.dot": DOT.replace("kind=action", "kind=banana")}),
    "graph/two-graphs": Case(["graph", "{d}/g.dot"], r"g.dot.*2 graphs", {"g.dot": DOT + DOT}),
    "graph/bad-in-scenario": Case(RUN, r"cannot load the policy graph", {"s.yaml": POLICY,
                                  "g.dot": "digraph { a -> \n"}),
    # --- STAR content ------------------------------------------------------------------------------------------
    "star/unknown-id": Case(["star", "generate", "--star-path", str(STAR), "--out", "{d}/o", "-m", "scripted:auto",
                             "--id", "999"], r"999"),
    "star/unknown-task": Case(["star", "generate", "--star-path", str(STAR), "--out", "{d}/o", "-m", "scripted:auto",
                               "--task", "nope"], r"nope"),
    "star/no-dialogues-folder": Case(["star", "generate", "--star-path", "{d}/star", "--out", "{d}/o"], r"dialogues",
                                     {"star/tasks/": ""}),
    # --- flags ---------------------------------------------------------------------------------------------------
    "flag/max-turns-0": Case([*RUN, "--max-turns", "0"], r"--max-turns.*0 is not in the range x>=1", {"s.yaml": GOOD}),
    "flag/max-turns-text": Case([*RUN, "--max-turns", "three"], r"'three' is not a valid integer", {"s.yaml": GOOD}),
    "flag/seed-negative": Case([*RUN[:-2], "--seed", "-1"], r"^Error: Seed -1 is out of range", {"s.yaml": GOOD}),
    "flag/seed-2-32": Case([*RUN[:-2], "--seed", str(2**32)], r"Seed 4294967296 is out of range", {"s.yaml": GOOD}),
    "flag/seed-text": Case([*RUN[:-2], "--seed", "abc"], r"'abc' is not a valid integer", {"s.yaml": GOOD}),
    "flag/batch-n-0": Case([*BATCH[:3], "0", *BATCH[4:]], r"0 is not in the range x>=1", {"s.yaml": GOOD}),
    "flag/batch-seed-overflow": Case([*BATCH, "--seed", str(2**32 - 1)], r"out of range", {"s.yaml": GOOD}),
    "flag/concurrency-0": Case([*BATCH, "--concurrency", "0"], r"0 is not in the range x>=1", {"s.yaml": GOOD}),
    "flag/attempts-0": Case([*BATCH, "--attempts", "0"], r"0 is not in the range x>=1", {"s.yaml": GOOD}),
    "flag/request-timeout-0": Case([*RUN, "--request-timeout", "0"], r"--request-timeout.*x>0", {"s.yaml": GOOD}),
    "flag/request-timeout-negative": Case([*BATCH, "--request-timeout", "-3"], r"--request-timeout", {"s.yaml": GOOD}),
    "flag/request-timeout-text": Case([*RUN, "--request-timeout",
                                      "soon"], r"'soon' is not a valid float", {"s.yaml": GOOD}),
    "flag/export-format": Case(["export", "{d}/d", "--format", "csv", "--out", "{d}/x"], r"'csv' is not one of",
                               ONE_DIALOG),
    "flag/export-roles": Case(["export", "{d}/d", "--format", "openai", "--out", "{d}/x.jsonl", "--roles", "A"],
                              r"roles", ONE_DIALOG),
    "flag/evaluate-both": Case(["evaluate", "{d}/d", "--graph", "{d}/g.dot", "--star-path", str(STAR)],
                               r"not both", {**ONE_DIALOG, "g.dot": DOT}),
    "flag/human-unknown": Case([*RUN, "--human", "Zed"], r"Zed", {"s.yaml": GOOD}),
    "flag/unknown-option": Case([*RUN, "--colour", "red"], r"No such option '--colour'", {"s.yaml": GOOD}),
    "flag/star-max-turns-1": Case(["star", "generate", "--star-path", str(STAR), "--out", "{d}/o", "--max-turns", "1"],
                                  r"1 is not in the range x>=2"),
    "flag/personas-n-0": Case(["personas", "sample", "doctor_intake", "-n", "0"], r"0 is not in the range x>=1"),
    "flag/turns-odd": Case(["intent-chat", "--turns", "3", "--out", "{d}/x.jsonl", "-m", "scripted:auto"], r"even"),
    "flag/max-failures-negative": Case([*BATCH, "--max-failures", "-1"], r"-1 is not in the range x>=0",
                                       {"s.yaml": GOOD}),
    "flag/star-id-negative": Case(["star", "generate", "--star-path", str(STAR), "--out", "{d}/o", "--id", "-1"],
                                  r"-1 is not in the range x>=0"),
    "flag/export-role-unknown": Case(["export", "{d}/d", "--format", "openai", "--out", "{d}/x.jsonl", "--roles",
                                      "A=king"], r"king|role", ONE_DIALOG),
    "flag/graph-svg-under-a-file": Case(["graph", "{d}/g.dot", "--svg", "{d}/f/g.svg"], r"f is a file, not a folder",
                                        {"g.dot": DOT, "f": "x"}),
    "flag/personas-no-sampled-agent": Case(["personas", "sample", "{d}/s.yaml"], r"sample", {"s.yaml": GOOD}),
    "flag/personas-unknown-agent": Case(["personas", "sample", str(ROOT / "scenarios" / "clinic_diverse.yaml"),
                                         "--agent", "Zed"], r"Zed"),
    "flag/taxonomy-binary": Case(["intent-chat", "--taxonomy", "{d}/t.yaml", "--out", "{d}/x.jsonl"],
                                 r"t.yaml: not a UTF-8 text file", {"t.yaml": BINARY}),
    "flag/report-graph-binary": Case(["report", "{d}/d", "--graph", "{d}/g.dot"], r"g.dot.*(UTF-8|decode)",
                                     {**ONE_DIALOG, "g.dot": BINARY}),
    # --- model strings -------------------------------------------------------------------------------------------
    "model/typo": Case([*RUN[:3], "olama:x", *RUN[4:]], r"Unknown backend 'olama'. Did you mean 'ollama'\?",
                       {"s.yaml": GOOD}),
    "model/empty-prefix": Case([*RUN[:3], ":x", *RUN[4:]], r"backend", {"s.yaml": GOOD}),
    "model/llamacpp-no-path": Case([*RUN[:3], "llamacpp:", *RUN[4:]], r"Give the GGUF file", {"s.yaml": GOOD}),
    "model/llamacpp-missing": Case([*RUN[:3], "llamacpp:{d}/none.gguf", *RUN[4:]], r"GGUF file not found",
                                   {"s.yaml": GOOD}),
    "model/llamacpp-text-file": Case([*RUN[:3], "llamacpp:{d}/m.gguf", *RUN[4:]], r"is not a GGUF model file",
                                     {"s.yaml": GOOD, "m.gguf": "not a model"}),
    "model/llamacpp-a-folder": Case([*RUN[:3], "llamacpp:{d}/m.gguf", *RUN[4:]], r"m.gguf is a folder",
                                    {"s.yaml": GOOD, "m.gguf/": ""}),
    "model/embedded-with-name": Case([*RUN[:3], "embedded:big", *RUN[4:]], r"'embedded' takes no model name",
                                     {"s.yaml": GOOD}),
    "model/in-scenario": Case(RUN[:2] + RUN[4:], r"Unknown backend 'gpt'", {"s.yaml": GOOD + "model: gpt:4\n"}),
    "model/agent-in-scenario": Case(RUN[:2] + RUN[4:], r"Unknown backend 'olama'",
                                    {"s.yaml": "name: t\nagents: [{name: A, model: 'olama:x'},\n"
                                               "         {name: B, model: scripted:auto}]\n"}),
    "model/base-url-in-process": Case([*BATCH, "--base-url", "http://127.0.0.1:1"], r"runs in this process",
                                      {"s.yaml": GOOD}),
    "model/openai-no-key": Case(RUN[:2] + RUN[4:], r"needs an API key: set \$OPENAI_API_KEY",
                                {"s.yaml": GOOD + "model: openai:m\n"}),
    "model/unreachable-server": Case([*RUN[:3], "ollama:m", *RUN[4:], "--request-timeout", "2"],
                                     r"(Cannot reach|failed)", {"s.yaml": GOOD}),
    # --- saved dialogue files --------------------------------------------------------------------------------
    "dialog/txt-bad-line": Case(["show",
                                "{d}/x.txt"], r"line 2 is not 'speaker: text'", {"x.txt": "A: hi\nnonsense\n"}),
    "dialog/json-syntax": Case(["show", "{d}/x.json"], r"not a valid dialogue JSON file", {"x.json": "{"}),
    "dialog/json-a-list": Case(["show", "{d}/x.json"], r"not a valid dialogue JSON file", {"x.json": "[]"}),
    "dialog/schema-version-99": Case(["show", "{d}/x.json"], r"schema_version 99 is not supported.*schema_version 1",
                                     {"x.json": json.dumps({"schema_version": 99})}),
    "dialog/turn-text-a-number": Case(["show", "{d}/x.json"], r"turns.0.text",
                                      {"x.json": json.dumps({"turns": [{"speaker": "A", "text": 3}]})}),
    "dialog/unknown-extension": Case(["show", "{d}/x.csv"], r"unknown extension '.csv'", {"x.csv": "A: hi\n"}),
    "dialog/stop-reason": Case(["show",
                               "{d}/x.json"], r"stop_reason", {"x.json": json.dumps({"stop_reason": "bored"})}),
}


def case_params() -> list[Any]:
    return [pytest.param(case, id=name) for name, case in CASES.items()]


@pytest.mark.parametrize("case", case_params())
def test_bad_cli_input_is_a_clear_error(case: Case, tmp_path, monkeypatch):
    for name in ("ROLEPLAY_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)  # the cases name their servers and models themselves
    make_files(tmp_path, case.files)
    run_case(case.args, case.expect, tmp_path)


# --- Python API misuse -------------------------------------------------------------------------------------------
def _generator(**options: Any) -> Any:
    from roleplay.generators import PersonaDialogGenerator

    return PersonaDialogGenerator("scripted:auto", Persona(name="A"), Persona(name="B"), **options)


def _agent_spec(**fields: Any) -> Any:
    from roleplay.generators import AgentSpec

    return AgentSpec(**fields)


def _scenario(**fields: Any) -> Any:
    from roleplay.scenario import Scenario

    return Scenario(**fields)


API_MISUSE: dict[str, tuple[Callable[[], Any], type[ConfigError], str]] = {
    "Persona(name=123)": (lambda: Persona(name=123), PersonaError, r"Invalid Persona: name: Input should be a valid "
                                                                   r"string \(got 123\)"),
    "Persona('Ann')": (lambda: Persona("Ann"), PersonaError, r"Persona takes keyword arguments only"),
    "Persona(mood=x)": (lambda: Persona(mood="x"), PersonaError,
                        r"unknown field mood \(allowed: name, role.*Its fields: name, role"),
    "AgentSpec(persona='x')": (lambda: _agent_spec(name="A", persona="x"), ConfigError,
                               r"persona: Input should be a valid dictionary or instance of BasePersona"),
    "AgentSpec(no name)": (lambda: _agent_spec(persona=Persona()), ConfigError, r"name: Field required"),
    "AgentSpec(name=director)": (lambda: _agent_spec(name="director", persona=Persona()), ConfigError, r"reserved"),
    "Turn(speaker=1)": (lambda: Turn(speaker=1, text="x"), ConfigError, r"Invalid Turn: speaker"),
    "Turn('A', 3)": (lambda: Turn("A", 3), ConfigError, r"text: Input should be a valid string"),
    "Turn()": (lambda: Turn(), ConfigError, r"text: Field required"),
    "Dialog(turns='x')": (lambda: Dialog(turns="x"), ConfigError, r"turns: Input should be a valid list"),
    "Dialog(schema_version=2)": (lambda: Dialog(schema_version=2), ConfigError, r"schema_version 2 is not supported"),
    "Dialog(stop_reason=bored)": (lambda: Dialog(stop_reason="bored"), ConfigError, r"stop_reason"),
    "Scenario(name=1)": (lambda: _scenario(name=1,
        agents=[{}, {}]), ScenarioError, r"name: Input should be a valid string"),
    "Scenario(one agent)": (lambda: _scenario(name="x", agents=[{}]), ScenarioError, r"at least 2 items"),
    "max_turns=-3": (lambda: _generator(max_turns=-3), ConfigError, r"max_turns"),
    "max_turns='3'": (lambda: _generator(max_turns="3"), ConfigError, r"max_turns"),
    "max_turns=0": (lambda: _generator(max_turns=0), ConfigError, r"max_turns"),
    "generate(max_turns=0)": (lambda: _generator().generate(max_turns=0), ConfigError, r"max_turns"),
    "generate(seed=-1)": (lambda: _generator().generate(seed=-1), ConfigError, r"Seed -1 is out of range"),
    "generate(seed=2**32+7)": (lambda: _generator().generate(seed=2**32 + 7), ConfigError, r"out of range"),
    "two agents one name": (lambda: _generator(agents=[_agent_spec(name="A", persona=Persona()),
                                                        _agent_spec(name="a", persona=Persona())]),
                            ConfigError, r"same name"),
    "get_backend('olama:x')": (lambda: __import__("roleplay.backends").backends.get_backend("olama:x"), ConfigError,
                               r"Did you mean 'ollama'"),
    "get_backend(temprature=)": (lambda: __import__("roleplay.backends").backends.get_backend("scripted:auto",
                                                                                              temprature=1),
                                 ConfigError, r"temprature"),
    "load_scenario(42)": (lambda: load_scenario(42), ConfigError, r"42"),
    "Dialog.from_file(dir)": (lambda: Dialog.from_file(Path.cwd()), ConfigError, r"is a folder"),
    "Dialog.from_file(missing)": (lambda: Dialog.from_file("gone.json"), ConfigError, r"no such file"),
    "Dialog.to_file(.md)": (lambda: Dialog().to_file("x.md"), ConfigError, r"unknown extension '.md'"),
}


@pytest.mark.parametrize("name", list(API_MISUSE))
def test_python_api_misuse_raises_config_error(name):
    call, error, message = API_MISUSE[name]
    with pytest.raises(error, match=message) as caught:
        call()
    assert isinstance(caught.value, ValueError)  # code that caught ValueError still does


def test_nested_validation_keeps_pydantic_errors_for_the_file_readers():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Dialog.model_validate({"turns": [{"text": 3}]})
    assert Dialog.model_validate({"turns": [{"speaker": "A", "text": "hi"}]}).turns[0].text == "hi"
