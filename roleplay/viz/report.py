"""`roleplay report`: one self-contained HTML page for a run folder, to browse and to share.

The page has the summary numbers of ``roleplay evaluate`` (`roleplay.evaluation.summarize`), text
quality, bar charts, a visit heatmap per policy graph, and every transcript. Transcripts and path
overlays are rendered here once and embedded as JSON; a small inline script lists them a page at a
time with search and filters, and draws a dialogue (transcript and path on its graph) only when it is
opened, so thousands of dialogues stay quick. Nothing is loaded from the network.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from roleplay._atomic import as_path, atomic_write_text
from roleplay._checked import checked_items
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError, PolicyGraphError
from roleplay.evaluation import evaluate_dialog, load_dialogs, summarize
from roleplay.evaluation.coverage import coverage_of, uncovered_rows
from roleplay.evaluation.groups import by_setup, setup_of
from roleplay.evaluation.text import text_report
from roleplay.policy.graph import PolicyGraphWarning, read_dot
from roleplay.prices import PriceTable, cost_of
from roleplay.resources import find_scenario
from roleplay.usage import dialog_usage, totals
from roleplay.viz._report_page import Entry, render_page

__all__ = ["branch_notes", "graphs_for", "load_graphs", "make_report", "text_quality", "usage_overview",
           "write_report"]


def load_graphs(paths: Iterable[str | Path], wanted: Iterable[str] | None = None) -> dict[str, nx.DiGraph]:
    """Policy graphs by name from DOT files and folders of DOT files (``scenarios/star``).

    With ``wanted`` (task names), a folder's files are read only when named ``<task>.dot`` (reading DOT
    is slow, and a STAR run seldom needs all 24 graphs).
    """
    graphs: dict[str, nx.DiGraph] = {}
    chosen = set(wanted) if wanted is not None else None
    for path in map(Path, paths):
        files = sorted(path.glob("*.dot")) if path.is_dir() else [path]
        if not files:
            raise PolicyGraphError("The folder has no .dot files. Pass a DOT file or a folder of them.", path=path)
        if path.is_dir() and chosen is not None:
            files = [file for file in files if file.stem in chosen]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicyGraphWarning)  # `roleplay graph` reports those
            for file in files:
                graph = read_dot(file)
                graphs[graph.graph.get("name") or file.stem] = graph
    return graphs


def scenario_graphs(folder: str | Path) -> dict[str, nx.DiGraph]:
    """The policy graph of the scenario a batch folder was made from, when its ``batch.json`` names one that loads."""
    params = Path(folder) / "batch.json"
    try:
        named = json.loads(params.read_text(encoding="utf-8")).get("scenario") or ""
    except (OSError, ValueError, AttributeError):
        return {}
    scenario_file = find_scenario(named) if named else Path()  # a bundled name (`roleplay batch doctor_intake`)
    if not scenario_file.is_file():
        return {}
    from roleplay.scenario import load_scenario

    try:
        policy = load_scenario(scenario_file).load_policy()
    except ConfigError:
        return {}
    return dict(policy.graphs) if policy else {}


def _tasks(dialog: Dialog) -> list[str]:
    policy = dialog.metadata.get("policy")
    if isinstance(policy, dict) and policy.get("tasks"):
        return list(policy["tasks"])
    scenario = dialog.scenario if isinstance(dialog.scenario, dict) else {}
    return [c["Task"] for c in scenario.get("WizardCapabilities", []) if isinstance(c, dict) and "Task" in c]


def graphs_for(dialog: Dialog, graphs: Mapping[str, nx.DiGraph]) -> dict[str, nx.DiGraph]:
    """The graphs ``dialog`` followed (by its tasks); the only graph when there is one and it names no task."""
    tasks = _tasks(dialog)
    if not tasks:
        return dict(graphs) if len(graphs) == 1 and any(t.action for t in dialog.turns) else {}
    return {task: graphs[task] for task in tasks} if all(task in graphs for task in tasks) else {}


TEXT_COLUMNS = ("distinct_1", "distinct_2", "words_per_turn", "near_copy_rate", "role_confusion_rate",
                "cut_off_rate", "resamples_per_turn")


def text_quality(dialogs: Sequence[Dialog]) -> dict[str, float | None]:
    """The text-quality numbers of ``roleplay evaluate`` (`roleplay.evaluation.text`) for a set of dialogues."""
    overall = text_report(dialogs)["summary"][-1]
    return {column: overall[column] for column in TEXT_COLUMNS}




def _entries(dialogs: Sequence[Dialog], graphs: Mapping[str, nx.DiGraph]) -> list[Entry]:
    from roleplay.viz._paths import dialog_steps

    entries = []
    for dialog in dialogs:
        followed = graphs_for(dialog, graphs)
        entry = Entry(dialog, followed, setup_of(dialog), _tasks(dialog) or list(followed))
        if entry.graphs:
            entry.metrics = evaluate_dialog(dialog, entry.graphs)
            entry.steps = dialog_steps(entry.graphs, dialog)
        entries.append(entry)
    return entries


def _variant_rows(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Adherence (the ``ALL`` row of `summarize`) and text quality, one row per set-up (variant and policy arm)."""
    rows = []
    for (variant, arm), group in by_setup(entries, lambda e: e.setup).items():
        measured = [e.metrics for e in group if e.metrics is not None]
        adherence = summarize(measured)[-1] if measured else {}
        rows.append({"variant": variant, "arm": arm, "dialogs": len(group),
                     **{k: v for k, v in adherence.items() if k not in ("task", "variant", "arm", "dialogs")},
                     **text_quality([e.dialog for e in group])})
    return rows


def _stop(dialog: Dialog) -> str:
    return dialog.stop_reason.value if dialog.stop_reason else "none"


def _counts(values: Iterable[Any]) -> list[tuple[str, float]]:
    return [(str(k), v) for k, v in sorted(Counter(values).items())]


def usage_overview(dialogs: Sequence[Dialog], prices: PriceTable | None = None) -> dict[str, Any]:
    """The report's cards on spending: tokens by source, and the cost at ``prices`` (models without a price named)."""
    lines = [line for dialog in dialogs for line in dialog_usage(dialog)]
    summed = totals(lines)
    cards: dict[str, Any] = {"tokens (prompt + completion)": f"{summed['total'].prompt_tokens:,} + "
                                                               f"{summed['total'].completion_tokens:,}"}
    cards.update({f"tokens: {source}": f"{usage.tokens:,}" for source, usage in summed.items()
                  if source != "total" and len(summed) > 2})
    if prices is not None:
        cost, unknown = cost_of(lines, prices)
        cards["cost"] = f"{cost:.4g}" + (f" (no price for {', '.join(unknown)})" if unknown else "")
    return cards


def branch_notes(dialogs: Sequence[Dialog]) -> list[str]:
    """One line per dialogue that has branches: the branches, where they left it, what changed, how they ended."""
    children: dict[str, list[Dialog]] = defaultdict(list)
    for dialog in dialogs:
        if dialog.parent_id is not None:
            children[str(dialog.parent_id)].append(dialog)
    notes = []
    for parent, branches in sorted(children.items()):
        listed = "; ".join(
            f"{b.id} (from turn {b.branched_at}, "
            f"{', '.join(f'{k}={v}' for k, v in (b.metadata.get('branch') or {}).items()) or 'same settings'}: "
            f"{len(b.turns)} turns, {_stop(b)})" for b in branches)
        notes.append(f"Dialogue {parent} and its {len(branches)} branch(es): {listed}")
    return notes


def make_report(dialogs: Sequence[Dialog], graphs: Mapping[str, nx.DiGraph], *, title: str = "roleplay report",
                notes: Sequence[str] = (), prices: PriceTable | None = None, judged: Sequence[Mapping[str, Any]] = (),
                reasoning: Mapping[str, str] | None = None) -> str:
    """The report page for ``dialogs`` (adherence measured on ``graphs``, task name -> graph) as HTML text.

    ``judged``: titled tables (judges, agreement, pass^k, comparison: `roleplay.viz._judged.judged_blocks`);
    ``reasoning``: HTML shown under each dialogue's transcript, by dialogue id.
    """
    entries = _entries(dialogs, graphs)
    for entry in entries:
        entry.judged_html = (reasoning or {}).get(str(entry.dialog.id), "")
    measured = [e.metrics for e in entries if e.metrics is not None]
    used = {task: graph for e in entries for task, graph in e.graphs.items()}
    turns = [len(e.dialog.turns) for e in entries]
    overview = {"dialogues": len(entries), "turns (mean)": round(sum(turns) / len(turns), 2) if turns else None,
                "stop reasons": dict(Counter(_stop(e.dialog) for e in entries)),
                **text_quality([e.dialog for e in entries]), **usage_overview(dialogs, prices)}
    covered = coverage_of((e.dialog, e.graphs) for e in entries)
    uncovered = {t.task: [(e["from"], e["to"]) for e in t.uncovered_edges] for t in covered}
    return render_page(
        title=title, overview=overview, summary=summarize(measured) if measured else [],
        coverage=uncovered_rows(covered), uncovered=uncovered,
        variants=_variant_rows(entries), entries=entries, graphs=used, judged=judged,
        counts={"turns": _counts(turns), "stop": _counts(_stop(e.dialog) for e in entries)},
        notes=[*notes, *([] if used else ["No policy graph is known for these dialogues, so there is no adherence "
                                          "or heatmap: pass --graph FILE.dot (or a folder of them, such as "
                                          "scenarios/star)."]), *branch_notes(dialogs)],
    )


def write_report(folder: str | Path | Sequence[str | Path], out: str | Path | None = None,
                 graph_paths: Sequence[str | Path] = (), title: str | None = None,
                 prices: PriceTable | None = None) -> Path:
    """Write the report of the run in ``folder``, or of several together, to ``out`` atomically.

    ``out`` defaults to ``folder/report.html`` (several folders need one); tables split by variant and arm.
    """
    folders = [as_path(f, "write_report's folder (a run folder)") for f in
               ([folder] if folder is None or isinstance(folder, (str, os.PathLike)) else
                checked_items(folder, (str, os.PathLike), "write_report's folder", "pass a run folder or a list"))]
    if out is None and len(folders) != 1:
        raise ConfigError(f"{len(folders)} folders make one report: say where it goes with --out report.html.")
    target = as_path(out, "write_report's out (an .html file)") if out is not None else folders[0] / "report.html"
    if target.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"The report is one HTML file; {target.name!r} does not end in .html. "
                          "Pass --out report.html.")
    dialogs = load_dialogs(folders)
    tasks = {task for dialog in dialogs for task in _tasks(dialog)}
    graphs = {graph_name: graph for each in folders for graph_name, graph in scenario_graphs(each).items()}
    graphs.update(load_graphs(graph_paths, tasks or None))
    notes: list[str] = []
    judged: list[dict[str, Any]] = []
    reasoning: dict[str, str] = {}
    if len(folders) == 1:
        from roleplay.viz._judged import judged_blocks

        judged, reasoning = judged_blocks(folders[0], dialogs)
    else:
        notes.append(f"{len(folders)} run folders together: {', '.join(map(str, folders))}. Judge scores and "
                     "pass^k are kept per folder: report one folder to see them.")
    name = ", ".join(f.resolve().name for f in folders)
    html = make_report(dialogs, graphs, title=title or f"roleplay report: {name}", notes=notes,
                       prices=prices, judged=judged, reasoning=reasoning)
    return atomic_write_text(target, html)
