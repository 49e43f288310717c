"""A STAR task's flowchart as a policy graph: its nodes classified, the task file's chain and the rules it implies.

Layers 1 and 2 of `roleplay.datasets.star._graphs` (which mines and counts the wizards' transitions on top).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import networkx as nx

from roleplay.policy.graph import NodeKind, add_action, is_system, node_kind

__all__ = ["ANSWERS", "OUTCOMES", "base_graph", "classify"]


OUTCOMES = {"query_success": "found", "available": "found", "query_failure": "empty", "unavailable": "empty"}
ANSWERS = {"yes": "yes", "no": "no", "done": "done", "correct": "correct", "incorrect": "incorrect",
           "noanswer": "noanswer", "info_missing": "info_missing", "info_missing2": "info_missing"}
_GOODBYE = re.compile(r"^(goodbye(_\d+)?|\w+_bye)$")
_GLOBALS = {"hello", "anything_else", "out_of_scope"}
_FLOWCHART_LAYERS = {"dict", "rule"}


def classify(label: str) -> NodeKind:
    """A STAR label's kind, from its name."""
    if label in OUTCOMES:
        return NodeKind.OUTCOME
    if label in ANSWERS:
        return NodeKind.ANSWER
    if label.startswith("query"):
        return NodeKind.QUERY
    if label in _GLOBALS or _GOODBYE.match(label):
        return NodeKind.GLOBAL
    return NodeKind.ACTION


def _add_label(graph: nx.DiGraph, label: str, template: str) -> None:
    kind = classify(label)
    add_action(graph, label, kind, template, anywhere=label == "out_of_scope")
    if _GOODBYE.match(label):
        graph.nodes[label]["terminal"] = True
    if label in OUTCOMES:
        graph.nodes[label]["when"] = OUTCOMES[label]
    elif label in ANSWERS:
        graph.nodes[label]["when"] = ANSWERS[label]


def _rule(graph: nx.DiGraph, u: str, v: str) -> None:
    if u in graph and v in graph and not graph.has_edge(u, v):
        graph.add_edge(u, v, source="rule", count=0)


def base_graph(name: str, task: Mapping[str, Any], rules: bool = True) -> nx.DiGraph:
    """Layers 1 and 2 (dict + naming rules) for one STAR task file's contents (``rules=False``: the dict)."""
    replies: dict[str, str] = task["replies"]
    chain: dict[str, str] = task["graph"]
    roots = [a for a in chain if a not in chain.values()]
    start = "hello" if "hello" in replies else (roots[0] if roots else next(iter(replies)))
    graph = nx.DiGraph(name=name, start=start, function=task.get("task", name))
    for label, template in replies.items():
        _add_label(graph, label, template)
    for u, v in chain.items():
        for node in (u, v):
            if node not in graph:
                _add_label(graph, node, "")
        graph.add_edge(u, v, source="dict", count=0)
    if rules:
        _add_rules(graph, chain)
    return graph


def _add_rules(graph: nx.DiGraph, chain: Mapping[str, str]) -> None:
    """Layer 2: the branches, answers, closings, slot skips and goals the dict leaves implicit."""
    nothing_found = [n for n in graph if n.endswith("inform_nothing_found")]
    for query in [n for n in graph if node_kind(graph, n) == NodeKind.QUERY]:
        family = ("available", "unavailable") if query == "query_check" and "available" in graph \
            else ("query_success", "query_failure")
        if query == "query_check" or not any(graph.nodes[s]["kind"] == "action" for s in graph.successors(query)):
            for outcome in family:
                _rule(graph, query, outcome)
        empty = [s for s in graph.successors(query) if graph.nodes[s].get("when") == "empty"] or [query]
        for source in empty:
            for target in nothing_found:
                _rule(graph, source, target)
    _add_rechecks(graph)

    answers = [n for n in graph if node_kind(graph, n) == NodeKind.ANSWER]
    goodbyes = [n for n in graph if _GOODBYE.match(n)]
    goals = {u for u, v in chain.items() if v == "anything_else" and u in graph and is_system(graph, u)}
    if not goals:  # trivia: the inform after the user's answer; searches: the result the query leads to
        after = {v: graph.nodes[u].get("when") or graph.nodes[u]["kind"] for u, v in chain.items()
                 if u in graph and v in graph and graph.nodes[v]["kind"] == NodeKind.ACTION.value}
        goals = {v for v, why in after.items() if why in ("correct", "incorrect", "noanswer")} \
            or {v for v, why in after.items() if why in ("found", NodeKind.QUERY.value)}
    goals |= _reports(graph, chain)
    for node in list(graph):
        data = graph.nodes[node]
        if data["kind"] != NodeKind.ACTION.value or graph.out_degree(node):
            continue
        template = data["template"].strip()
        asks = template.endswith("?") or ("_ask_" in node and re.fullmatch(r"\{[^}]*\}", template) is not None)
        if answers and asks:
            for answer in answers:
                _rule(graph, node, answer)
        else:
            _rule(graph, node, "anything_else")
    for goodbye in goodbyes:
        _rule(graph, "anything_else", goodbye)
        _rule(graph, goodbye, goodbye)  # the user says bye once more
    _add_slot_skips(graph, chain)
    for goal in goals:
        graph.nodes[goal]["goal"] = True


def _add_rechecks(graph: nx.DiGraph) -> None:
    """A booking task may check or book again from any outcome of a check or a booking (the user changed a detail)."""
    bookings = [q for q in ("query_check", "query_book") if q in graph]
    if len(bookings) < 2:
        return
    for query in bookings:
        for outcome in [s for s in graph.successors(query) if node_kind(graph, s) == NodeKind.OUTCOME]:
            for again in bookings:
                _rule(graph, outcome, again)


def _reports(graph: nx.DiGraph, chain: Mapping[str, str]) -> set[str]:
    """Statements the dict puts right after a query and nothing after: the answer itself (ride_status's status)."""
    return {v for u, v in chain.items() if u in graph and v in graph and v not in chain
            and graph.nodes[u]["kind"] == NodeKind.QUERY.value and graph.nodes[v]["kind"] == NodeKind.ACTION.value
            and "_ask_" not in v and not graph.nodes[v]["template"].strip().endswith("?")}


def _add_slot_skips(graph: nx.DiGraph, chain: Mapping[str, str]) -> None:
    """Let the wizard skip questions the user already answered, and ask one again.

    Along the dict's chain from the start to the first query, each question may jump to any later one
    (or to the query): users volunteer details, and real wizards skip the question then. Each of these
    questions may also be asked again (the user did not answer).
    """
    questions: list[str] = []
    node = graph.graph["start"]
    while node in chain and node not in questions:
        questions.append(node)
        node = chain[node]
        if node in graph and graph.nodes[node]["kind"] == NodeKind.QUERY.value:
            questions.append(node)
            break
    for i, source in enumerate(questions):
        if graph.nodes[source]["kind"] == NodeKind.ACTION.value:
            _rule(graph, source, source)
        for target in questions[i + 2:]:
            _rule(graph, source, target)

