"""Reconstructing STAR's task graphs, whose ``graph`` dict leaves out branches and global actions.

A reconstructed graph is built in three layers, each edge tagged with its ``source``:

1. ``dict``: the task file's ``graph`` (one successor per action).
2. ``rule``: what the flowchart images drew and the dict lost, recovered from naming structure:
   ``query_check`` → ``available``/``unavailable``; ``query``/``query_book`` → ``query_success``/
   ``query_failure``; a question (template ends in "?", or is a bare slot like trivia's
   ``{question:s}`` in an ``_ask_`` action) with no successor → the user answers
   (``yes``/``no``/``done``; trivia's ``correct``...; ``info_missing``); a failed query →
   ``*_inform_nothing_found``; an action with nothing
   after it → ``anything_else`` → goodbye (``terminal``). ``out_of_scope`` is an anywhere-action. Goal nodes are the
   system actions the dict puts before ``anything_else`` (the task's final inform); for a task with
   none (searches), the actions the dict puts after a query or after its success; and a statement the
   dict puts right after a query with nothing after it (ride_status's status report).
3. ``mined``: transitions human wizards took in real dialogues that layers 1–2 do not allow, kept
   when seen at least ``min_count`` times.

Then every edge, whatever its layer, gets its ``count``: how often the mining dialogues took it
(`count_transitions`). `roleplay.policy.prior` turns these counts into smoothed probabilities per
source node, which steer a run towards human-like paths. The counts also say where wizards treat the
task as done (`mark_closing_goals`): an action after which most mining dialogues close becomes a goal
too (trip_directions' wizards end on "...and you are there", not on the dict's final inform).

A wizard's own words right after a query that served the request are read as the result the flowchart
puts there (`label_free_results`) when transitions are mined and counted: STAR's wizards often typed
search results themselves instead of picking the result reply, and without that the result would count
as never said.

Labels the wizards used that the task file lacks (``goodbye_1`` in a task whose file says
``doctor_bye``) become nodes when mined, with the template another task gives them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

import networkx as nx

from roleplay.datasets.star._flowchart import (
    _FLOWCHART_LAYERS,
    _GOODBYE,
    ANSWERS,
    OUTCOMES,
    _add_label,
    _rule,
    base_graph,
    classify,
)
from roleplay.datasets.star._format import scenario_tasks
from roleplay.dialog import Dialog
from roleplay.policy.graph import NodeKind, is_system, node_kind
from roleplay.policy.prior import closing_actions
from roleplay.policy.tracker import FlowchartTracker, TrackerStep, replay

__all__ = ["ANSWERS", "CLOSING_GOAL_MIN_COUNT", "CLOSING_GOAL_SHARE", "OUTCOMES", "acceptance", "add_mined",
           "base_graph", "classify", "count_transitions", "label_free_results", "mark_closing_goals",
           "mine_transitions", "pool_across_tasks", "prune_rare", "result_actions"]

CLOSING_GOAL_SHARE = 0.5
CLOSING_GOAL_MIN_COUNT = 3
"""`mark_closing_goals`: an action is a goal when at least this share of at least this many transitions out of it
closed the dialogue."""


def result_actions(graph: nx.DiGraph, query: str) -> list[str]:
    """The goals the flowchart (``dict`` edges) puts right after ``query`` or after its ``found`` outcome.

    A search's or a booking's result (``restaurant_inform_search_results``, ``*_booking_successful``); none
    after a check (its next step asks to book) or a trivia query (it asks the question).
    """
    if query not in graph:
        return []
    found = [b for b in graph.successors(query) if graph.nodes[b].get("when") == "found"]
    return sorted({v for u in (query, *found) for v in graph.successors(u)
                   if graph.edges[u, v].get("source") == "dict" and graph.nodes[v].get("goal")})


def label_free_results(graphs: Mapping[str, nx.DiGraph], dialog: Dialog) -> Dialog:
    """``dialog`` with each wizard's own words right after a query that served the request labelled as its result.

    STAR's wizards often typed the result themselves instead of picking the task's result reply (in
    restaurant_search most turns after a search that found rows are typed, none is the picked result), so
    the result would count as never said after a query, and a prior mined from the counts would keep
    querying. Such a turn gets the query's one `result_actions` goal; a turn after a failed query, or after
    a query whose next step is no goal (a check, a trivia question), stays unlabelled. A copy is returned.
    """
    results: dict[int, str] = {}
    for event in dialog.events:
        data = event.data
        if event.type != "query" or event.turn is None or data.get("task") not in graphs:
            continue
        goals = result_actions(graphs[data["task"]], str(data.get("action")))
        if data.get("found") and len(goals) == 1:
            results[event.turn] = goals[0]
        else:
            results.pop(event.turn, None)  # the last query before the turn is the one its words report
    system = {t.speaker for t in dialog.turns if t.action}
    labelled = dialog.model_copy(deep=True)
    for index, result in results.items():
        turn = labelled.turns[index] if index < len(labelled.turns) else None
        if turn is not None and turn.action is None and turn.speaker in system:
            turn.action = result
    return labelled


def mine_transitions(
    graphs: Mapping[str, nx.DiGraph],
    dialogs: Iterable[Dialog],
) -> Counter[tuple[str, str, str]]:
    """Count the (task, from, to) transitions real dialogues took that the graphs do not allow.

    ``from`` is where the dialogue really was: the resolved outcome after a query, else the last action.
    Labels a graph lacks are counted too (to be added as nodes by `add_mined`). Both readings of a typed
    result count (each transition as often as the reading that took it more): as it is, so the graphs still
    accept the wizards' labelled actions (``query → ask_rating``), and as the result (`label_free_results`:
    ``query → result → ask_rating``), so a dialogue that says the result can go on as the wizards did.
    """
    dialogs = list(dialogs)
    labelled = [label_free_results(graphs, d) for d in dialogs]
    return _illegal_transitions(graphs, dialogs) | _illegal_transitions(graphs, labelled)


def _illegal_transitions(graphs: Mapping[str, nx.DiGraph], dialogs: Iterable[Dialog]) -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for step, origin in _replayed_steps(graphs, dialogs):
        if not step.legal and origin is not None:
            counts[(step.task, origin, step.action)] += 1
    return counts


def count_transitions(graphs: Mapping[str, nx.DiGraph], dialogs: Iterable[Dialog]) -> None:
    """Write on the graphs how often ``dialogs`` took each edge (``count``) and opened with each node (``starts``).

    Zero for the rest, whatever layer a node or edge came from. A wizard's typed result counts as the
    result (`label_free_results`), so the prior knows how often the result follows a query.

    A transition that passes through an unresolved branch (the user's answer was unclear, a query's outcome
    unknown) has no edge of its own: it is counted on the edge from the origin's branch that leads to the
    action, so `roleplay.policy.prior.option_count` (which sums those edges) sees it. When several branches
    lead there, it goes to the one whose edge the flowchart itself draws (``dict``/``rule``: trivia's
    ``correct → inform_answer_correct``, not a mined ``done → inform_answer_correct``), then to the one the
    resolved dialogues took most, then the first in sorted order: the unclear answers are assumed to split
    like the clear ones, and counts stay whole numbers.
    """
    direct: Counter[tuple[str, str | None, str]] = Counter()
    for step, origin in _replayed_steps(graphs, (label_free_results(graphs, d) for d in dialogs)):
        direct[(step.task, origin if step.index > 0 else None, step.action)] += 1
    counts = direct.copy()
    for (task, origin, action), count in direct.items():
        branch = _branch_towards(graphs[task], task, origin, action, direct)
        if branch is not None:
            counts[(task, branch, action)] += count
    for task, graph in graphs.items():
        for u, v in graph.edges:
            graph.edges[u, v]["count"] = counts.get((task, u, v), 0)
        for node in graph:
            graph.nodes[node]["starts"] = counts.get((task, None, node), 0)


def _branch_towards(graph: nx.DiGraph, task: str, origin: str | None, action: str,
                    direct: Counter[tuple[str, str | None, str]]) -> str | None:
    """The branch of ``origin`` (an outcome/answer node) an unresolved ``origin → action`` went through, if any."""
    if origin is None or origin not in graph or graph.has_edge(origin, action):
        return None
    branches = sorted(b for b in graph.successors(origin) if not is_system(graph, b) and graph.has_edge(b, action))
    return max(branches, default=None, key=lambda b: (graph.edges[b, action].get("source") in _FLOWCHART_LAYERS,
                                                      direct.get((task, b, action), 0)))


def mark_closing_goals(graph: nx.DiGraph, share: float = CLOSING_GOAL_SHARE,
                       min_count: int = CLOSING_GOAL_MIN_COUNT) -> list[str]:
    """Mark as goals the actions after which the mining dialogues mostly closed; return them (sorted).

    Closing is an action of `roleplay.policy.prior.closing_actions` ("anything else?", goodbye). Needs the
    counts of `count_transitions`. Where the dict's final inform is what wizards say before closing, nothing
    changes; where they close after another action (a booking query, a last step), that action is where
    the user was served.
    """
    closing = closing_actions(graph)
    marked = []
    for node in graph:
        if node_kind(graph, node) not in (NodeKind.ACTION, NodeKind.QUERY) or graph.nodes[node].get("goal"):
            continue
        counts = [(v, int(d.get("count", 0))) for _, v, d in graph.out_edges(node, data=True)]
        total = sum(c for _, c in counts)
        if total >= min_count and sum(c for v, c in counts if v in closing) >= share * total:
            graph.nodes[node]["goal"] = True
            marked.append(node)
    return sorted(marked)


def add_mined(
    graphs: Mapping[str, nx.DiGraph],
    counts: Counter[tuple[str, str, str]],
    min_count: int = 2,
    templates: Mapping[str, str] | None = None,
) -> None:
    """Add the mined transitions seen at least ``min_count`` times (and any label they need)."""
    templates = templates or {}
    for (task, origin, action), count in counts.items():
        if count < min_count or task not in graphs:
            continue
        graph = graphs[task]
        for node in (origin, action):
            if node not in graph:
                _add_label(graph, node, templates.get(node, ""))
                if _GOODBYE.match(node):
                    _rule(graph, node, node)  # as for the task's own goodbyes
        if not graph.has_edge(origin, action):
            graph.add_edge(origin, action, source="mined", count=count)


def pool_across_tasks(graphs: Mapping[str, nx.DiGraph], min_tasks: int = 1) -> int:
    """Add to each graph the mined transitions of *other* tasks between labels it has too; return how many.

    Tasks share labels (``ask_name``, ``query_check``, ``anything_else``...), and what wizards did between
    them in one task they do in another: a held-out dialogue often takes a transition its own task's
    dialogues never showed but another task's did. The edges are tagged ``source="pooled"`` (count 0:
    this task's dialogues never took them). ``min_tasks``: pool a transition mined in at least that many tasks.
    """
    mined = Counter((u, v) for graph in graphs.values() for u, v, d in graph.edges(data=True)
                    if d.get("source") == "mined")
    added = 0
    for graph in graphs.values():
        for (u, v), tasks in mined.items():
            if tasks >= min_tasks and u in graph and v in graph and not graph.has_edge(u, v):
                graph.add_edge(u, v, source="pooled", count=0)
                added += 1
    return added


def prune_rare(graph: nx.DiGraph, min_share: float) -> int:
    """Drop mined edges taken in less than ``min_share`` of the transitions out of their source; return how many.

    The probability-thresholded graph: the rules and the dict stay, the long tail of rare wizard moves goes.
    Needs the counts of `count_transitions`.
    """
    rare = []
    for u in graph:
        total = sum(int(d.get("count", 0)) for _, _, d in graph.out_edges(u, data=True))
        rare += [(u, v) for _, v, d in graph.out_edges(u, data=True)
                 if d.get("source") == "mined" and total and int(d.get("count", 0)) / total < min_share]
    graph.remove_edges_from(rare)
    return len(rare)


def acceptance(graphs: Mapping[str, nx.DiGraph], dialogs: Iterable[Dialog]) -> tuple[int, int]:
    """(accepted, total) consecutive system-action pairs of real dialogues, judged by the graphs."""
    accepted = total = 0
    for step, _ in _replayed_steps(graphs, dialogs):
        if step.index > 0:
            total += 1
            accepted += step.legal
    return accepted, total


def _replayed_steps(
    graphs: Mapping[str, nx.DiGraph], dialogs: Iterable[Dialog],
) -> Iterator[tuple[TrackerStep, str | None]]:
    """Every system step of every dialogue (on its scenario's graphs), with where the dialogue was before it."""
    for dialog in dialogs:
        tasks = [t for t in scenario_tasks(dialog.scenario) if t in graphs]
        if tasks:
            tracker = FlowchartTracker({t: graphs[t] for t in tasks})
            for step, origin, _ in replay(tracker, dialog):
                yield step, origin
