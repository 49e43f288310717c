"""The Python API called with hostile arguments: a `ConfigError` (still a ValueError) at the boundary.

Extends tests/test_bad_inputs.py's ``API_MISUSE``: arguments of the wrong type that escaped as raw
exceptions deep inside, and values that were accepted although nothing sensible can come of them
(``Timeout(nan)``, ``generate(seed=True)``, ``sample(-1)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from roleplay import Dialog, Persona, Turn
from roleplay.errors import ConfigError


async def _ok(index: Any, seed: int) -> Dialog:
    return Dialog(seed=seed, turns=[Turn("A", "hi")])


def _pair(**options: Any) -> Any:
    from roleplay.generators import PersonaDialogGenerator

    return PersonaDialogGenerator("scripted:auto", Persona(name="A"), Persona(name="B"), **options)


def _batch(**options: Any) -> Any:
    from roleplay.runs.batch import run_batch

    return run_batch(_ok, options.pop("n", 2), Path.cwd() / "b", progress=False, **options)


def _export(**options: Any) -> Any:
    from roleplay.runs.export import export

    Dialog(id=1, turns=[Turn("Doctor", "hi")]).to_file(Path.cwd() / "d" / "1.json")
    return export(Path.cwd() / "d", "openai", Path.cwd() / "x.jsonl", **options)


def _sampler(rules: Any = None, **options: Any) -> Any:
    from roleplay.personas import PersonaGenerator

    return PersonaGenerator(Persona, {"role": "patient"} if rules is None else rules, **options)


def _imported(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)


HOSTILE_API: dict[str, tuple[Callable[[], Any], str]] = {
    "Dialog.from_file(None)": (lambda: Dialog.from_file(None),
                               r"Dialog.from_file \(a .json or .txt file\) needs a path.*got None"),
    "Dialog.from_file(3)": (lambda: Dialog.from_file(3), r"needs a path .*got 3"),
    "Dialog.to_file(None)": (lambda: Dialog().to_file(None), r"Dialog.to_file \(a .json or .txt file\) needs a path"),
    "Dialog.to_file('')": (lambda: Dialog().to_file(""), r"needs a path .*got ''"),
    "PersonaDialogGenerator(persona_a='a doctor')": (
        lambda: _imported("roleplay.generators.PersonaDialogGenerator")("scripted:auto", persona_a="a doctor",
                                                                        persona_b=Persona(name="B")),
        r"A persona must be a Persona .*got str 'a doctor'"),
    "DialogGenerator(personas=['x'])": (lambda: _imported("roleplay.generators.DialogGenerator")(personas=["x"]),
                                        r"A persona must be a Persona"),
    "DialogGenerator(speakers=[])": (lambda: _imported("roleplay.generators.DialogGenerator")(speakers=[]),
                                     r"speakers must be a non-empty list of names"),
    "DialogGenerator(speakers='AB')": (lambda: _imported("roleplay.generators.DialogGenerator")(speakers="AB"),
                                       r"speakers must be a non-empty list"),
    "DialogGenerator(min_turns='3')": (lambda: _imported("roleplay.generators.DialogGenerator")(min_turns="3"),
                                       r"min_turns must be an int"),
    "PersonaGenerator(Persona, None)": (lambda: _imported("roleplay.personas.PersonaGenerator")(Persona, None),
                                        r"rules must be a mapping of field -> rule"),
    "PersonaGenerator(attempts='2')": (lambda: _sampler(attempts="2"), r"attempts must be an int"),
    "sample(-1)": (lambda: _sampler().sample(-1), r"n must be an int >= 0, got -1"),
    "sample('3')": (lambda: _sampler().sample("3"), r"n must be an int >= 0, got '3'"),
    "sample(10**12)": (lambda: _sampler().sample(10**12), r"past the largest seed 4294967295"),
    "sample(seed=-5)": (lambda: _sampler().sample(2, seed=-5), r"seed must be an int >= 0"),
    "Choice(weights=[nan, 1])": (lambda: _sampler({"role": {"choice": ["a", "b"], "weights": [math.nan, 1]}}),
                                 r"weights must be numbers >= 0 \(finite\)"),
    "Call(len)": (lambda: _sampler({"role": len}), r"must take two arguments, fn\(partial, rng\)"),
    "run_batch(seed='0')": (lambda: _batch(seed="0"), r"seed must be an int, got '0'"),
    "run_batch(n='3')": (lambda: _batch(n="3"), r"n must be a count \(an int\) or a list"),
    "run_batch(n=2**40)": (lambda: _batch(n=2**40), r"out of range"),
    "export(roles=5)": (lambda: _export(roles=5), r"roles must map speaker -> role"),
    "export(roles={'Doctor': 'king'})": (lambda: _export(roles={"Doctor": "king"}), r"Bad role mapping 'Doctor=king'"),
    "export(roles={'Docter': 'user'})": (lambda: _export(roles={"Docter": "user"}),
                                         r"names 'Docter', but no dialogue has such a speaker"),
    "Timeout(nan)": (lambda: _imported("roleplay.conditions.Timeout")(math.nan), r"positive number of seconds"),
    "Timeout(inf)": (lambda: _imported("roleplay.conditions.Timeout")(math.inf), r"\(finite\)"),
    "Predicate(None)": (lambda: _imported("roleplay.conditions.Predicate")(None),
                        r"Predicate needs a function fn\(dialog\) -> bool"),
    "Predicate(reason='x')": (lambda: _imported("roleplay.conditions.Predicate")(bool, "x"), r"not a StopReason"),
    "AnyOf(3)": (lambda: _imported("roleplay.conditions.AnyOf")(3), r"AnyOf combines stop conditions.*got 3"),
    "AllOf()": (lambda: _imported("roleplay.conditions.AllOf")(), r"AllOf combines stop conditions.*none"),
    "generate(seed=True)": (lambda: _pair().generate(seed=True), r"seed: .*Seed True is not an int"),
    "generate(seed=1.5)": (lambda: _pair().generate(seed=1.5), r"seed: .*Seed 1.5 is not an int"),
    "get_backend(temperature=inf)": (lambda: _imported("roleplay.backends.get_backend")("scripted:auto",
                                                                                        temperature=math.inf),
                                     r"temperature.*finite number"),
    "get_backend(request_timeout=nan)": (lambda: _imported("roleplay.backends.get_backend")("scripted:auto",
                                                                                            request_timeout=math.nan),
                                         r"request_timeout.*finite number"),
    "get_backend(base_url=port x)": (lambda: _imported("roleplay.backends.get_backend")(
        "openai:m", base_url="http://127.0.0.1:x"), r"bad port"),
    "load_scenario(alias bomb)": (lambda: _imported("roleplay.scenario.load_scenario")(_bomb()),
                                  r"b.yaml: holds more than 100000 values"),
    "RunFolder(None)": (lambda: _imported("roleplay.runs.folder.RunFolder")(None), r"A run folder needs a path"),
    "load_dialogs(None)": (lambda: _imported("roleplay.evaluation.load_dialogs")(None), r"needs a path"),
    "export(None, ...)": (lambda: _imported("roleplay.runs.export.export")(None, "jsonl", "x.jsonl"),
                          r"export's folder needs a path"),
    "read_dot(None)": (lambda: _imported("roleplay.policy.read_dot")(None), r"A policy graph \(a .dot file\) needs"),
    "PersonaGenerator.from_yaml(None)": (lambda: _imported("roleplay.personas.PersonaGenerator").from_yaml(None),
                                         r"A rules file needs a path"),
    "StarDataset(None)": (lambda: _imported("roleplay.datasets.star._loader.StarDataset")(None),
                          r"The STAR dataset \(its folder\) needs a path"),
    "run_batch(make=None)": (lambda: _imported("roleplay.runs.batch.run_batch")(None, 2, "b", progress=False),
                             r"make must be an async function"),
    "check_output(run/dialogs/x)": (lambda: _in_a_run_folder("dialogs/x.json"), r"belongs to the run folder"),
    "text_report([1])": (lambda: _imported("roleplay.evaluation.text_report")([1]),
                         r"text_report's dialogs must be a list of Dialog, but it holds int 1"),
    "text_report(None)": (lambda: _imported("roleplay.evaluation.text_report")(None),
                          r"text_report's dialogs must be a list of Dialog, got NoneType None"),
    "text_report(guards=3)": (lambda: _imported("roleplay.evaluation.text_report")([], 3),
                              r"text_report's guards must be a Guards"),
    "evaluation.write_report(None)": (lambda: _imported("roleplay.evaluation.write_report")(None, "r"),
                                      r"write_report's report must be a Mapping, got NoneType"),
    "evaluation.write_report({})": (lambda: _imported("roleplay.evaluation.write_report")({}, "r"),
                                    r"has no 'summary' list of rows"),
    "evaluation.write_report(out=None)": (lambda: _imported("roleplay.evaluation.write_report")({"summary": []}, None),
                                          r"write_report's out needs a path"),
    "viz.write_report(None)": (lambda: _imported("roleplay.viz.write_report")(None),
                               r"write_report's folder \(a run folder\) needs a path"),
    "viz.write_report(out=3)": (lambda: _imported("roleplay.viz.write_report")(".", 3), r"write_report's out"),
    "table([1])": (lambda: _imported("roleplay.evaluation.table")([1]), r"table's rows must be a list of Mapping"),
    "summarize([1])": (lambda: _imported("roleplay.evaluation.summarize")([1]),
                       r"summarize's metrics must be a list of DialogMetrics"),
    "evaluate_dialog(None, {})": (lambda: _imported("roleplay.evaluation.evaluate_dialog")(None, {}),
                                  r"evaluate_dialog's dialog must be a Dialog"),
    "evaluate_dialog(graphs=[1])": (lambda: _imported("roleplay.evaluation.evaluate_dialog")(Dialog(), [1]),
                                    r"evaluate_dialog's graphs must be a Mapping"),
    "evaluate_dialog(graphs={'t': 1})": (lambda: _imported("roleplay.evaluation.evaluate_dialog")(Dialog(), {"t": 1}),
                                         r"graphs \(their values\) must be a list of DiGraph"),
    "compare_with_real(None, {})": (lambda: _imported("roleplay.evaluation.compare_with_real")(None, {}),
                                    r"compare_with_real's generated must be a list of DialogMetrics"),
    "dialog_html(None)": (lambda: _imported("roleplay.viz.dialog_html")(None),
                          r"dialog_html's dialog must be a Dialog"),
    "draw_policy('g.dot')": (lambda: _imported("roleplay.viz.draw_policy")("g.dot"),
                             r"draw_policy's graph must be a DiGraph, got str 'g.dot'; read one with .*read_dot"),
    "policy_heatmap(None, [])": (lambda: _imported("roleplay.viz.policy_heatmap")(None, []),
                                 r"policy_heatmap's graph must be a DiGraph"),
    "to_dot(DiGraph())": (lambda: _imported("roleplay.policy.to_dot")(__import__("networkx").DiGraph()),
                          r"to_dot's graph has no start node"),
    "write_dot(graph, None)": (lambda: _imported("roleplay.policy.write_dot")(_graph(), None),
                               r"write_dot's path \(a .dot file\) needs a path"),
    "as_autogen('a doctor')": (lambda: _imported("roleplay.interop.as_autogen")("a doctor", "scripted:auto"),
                               r"as_autogen's persona must be a BasePersona, got str 'a doctor'"),
    "dialog_from_autogen([1])": (lambda: _imported("roleplay.interop.dialog_from_autogen")([1]),
                                 r"dialog_from_autogen's result must be a list of BaseChatMessage or BaseAgentEvent"),
}


def _graph() -> Any:
    from roleplay.policy import read_dot

    path = Path.cwd() / "g.dot"
    path.write_text('digraph g { graph [start="hi"]; hi [kind=action, template="Hi"]; }\n', encoding="utf-8")
    return read_dot(path)


def _bomb() -> Path:
    levels = "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9))
    path = Path.cwd() / "b.yaml"
    path.write_text("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + levels, encoding="utf-8")
    return path


def _in_a_run_folder(relative: str) -> None:
    from roleplay.runs.folder import check_output

    (Path.cwd() / "r").mkdir()
    (Path.cwd() / "r" / "index.jsonl").write_text("", encoding="utf-8")
    check_output(Path.cwd() / "r" / relative)


@pytest.mark.parametrize("name", list(HOSTILE_API))
def test_hostile_api_arguments_raise_config_error(name):
    call, message = HOSTILE_API[name]
    with pytest.raises(ConfigError, match=message) as caught:
        call()
    assert isinstance(caught.value, ValueError)


def test_export_takes_the_cli_roles_string_too(tmp_path):
    assert _export(roles="Doctor=assistant") == 1
    assert '"role": "assistant"' in (tmp_path / "x.jsonl").read_text(encoding="utf-8")


def test_isample_streams_without_building_the_list():
    stream = _sampler({"role": {"choice": ["a", "b"]}}).isample(4_000_000_000)
    first = [next(stream) for _ in range(3)]
    assert [p.role for p in first] == [p.role for p in _sampler({"role": {"choice": ["a", "b"]}}).sample(3)]
