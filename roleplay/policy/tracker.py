"""`FlowchartTracker`: where the system agent is on its policy graph(s), and what it may do next.

The tracker knows nothing about models. It holds one graph per task, the position on each, the
branch that resolved the position (the query failed, the user said yes), and the path taken.
`legal_actions` is what an enforcing orchestrator offers the agent as an enum; `advance` records
an action, legal or not, so the same tracker also *measures* dialogues it did not drive (the real
STAR wizards, a prompt-only run). After an illegal action it moves to that action anyway, so one
mistake is counted once and the next transition is judged from where the dialogue really is.

Anywhere-actions (``out_of_scope``) return: after one, the agent may go on from where it was.
A multi-task scenario switches task when an action belongs to another task's graph (or on `switch`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping

import networkx as nx
from pydantic import BaseModel, Field

from roleplay.dialog import Dialog
from roleplay.errors import PolicyGraphError
from roleplay.policy._answers import answer_of
from roleplay.policy.graph import NodeKind, branches, goal_nodes, is_terminal, legal_actions, steps_to_goal

__all__ = ["FlowchartTracker", "TrackerStep", "replay"]


class TrackerStep(BaseModel):
    """One system action as the tracker judged it."""

    task: str = Field(description="Task whose graph the action belongs to.")
    action: str = Field(description="The action taken.")
    legal: bool = Field(description="Whether the action was among the legal next actions.")
    allowed: list[str] = Field(description="The legal next actions at that moment.")
    index: int = Field(description="Position of the action in the tracker's path (0-based).")


class FlowchartTracker:
    """Tracks a system agent over one policy graph per task (one graph: one task)."""

    def __init__(self, graphs: nx.DiGraph | Mapping[str, nx.DiGraph], task: str | None = None):
        if isinstance(graphs, nx.DiGraph):
            graphs = {graphs.graph.get("name") or "task": graphs}
        if not graphs:
            raise PolicyGraphError("A tracker needs at least one policy graph.")
        self.graphs: dict[str, nx.DiGraph] = dict(graphs)
        self.task = task if task is not None else next(iter(self.graphs))
        self._check_task(self.task)
        self.position: dict[str, str | None] = {t: None for t in self.graphs}
        self.resolution: dict[str, str | None] = {t: None for t in self.graphs}
        self._resume: dict[str, str | None] = {t: None for t in self.graphs}
        self.steps: list[TrackerStep] = []

    def _check_task(self, task: str) -> None:
        if task not in self.graphs:
            raise PolicyGraphError(f"Unknown task {task!r}; this tracker has: {', '.join(self.graphs)}.", node=task)

    @property
    def graph(self) -> nx.DiGraph:
        """The current task's graph."""
        return self.graphs[self.task]

    def legal_actions(self, task: str | None = None) -> list[str]:
        """The system actions allowed next on ``task`` (default: the current task), best first."""
        task = task or self.task
        graph, node = self.graphs[task], self.position[task]
        actions = legal_actions(graph, node, self.resolution[task])
        resume = self._resume[task]
        if node is not None and graph.nodes[node].get("anywhere"):
            actions += [a for a in legal_actions(graph, resume) if a not in actions]
        return actions

    def pending(self, kind: NodeKind) -> list[str]:
        """The unresolved outcome (or answer) branches after the current node."""
        node = self.position[self.task]
        if node is None or self.resolution[self.task] is not None:
            return []
        return branches(self.graph, node, kind)

    def resolve(self, branch: str) -> None:
        """Say which outcome/answer branch happened after the current node (``query_failure``, ``yes``)."""
        node = self.position[self.task]
        options = branches(self.graph, node, NodeKind.OUTCOME) + branches(self.graph, node, NodeKind.ANSWER) \
            if node is not None else []
        if branch not in options:
            raise PolicyGraphError(f"{branch!r} does not follow {node!r} in task {self.task!r}; "
                                   f"its branches are: {', '.join(options) or 'none'}.", node=branch)
        self.resolution[self.task] = branch

    def resolve_when(self, kind: NodeKind, when: str) -> str | None:
        """Resolve the pending ``kind`` branch whose ``when`` is ``when`` (``found``, ``no``...); return it."""
        match = [b for b in self.pending(kind) if self.graph.nodes[b].get("when", b) == when]
        if match:
            self.resolve(match[0])
        return match[0] if match else None

    def offer_pending(self) -> bool:
        """Whether the question waiting for a yes/no offers a goal: yes reaches one sooner than no on the flowchart.

        "A viewing is free, shall I book it?": yes books, no asks for another day first. Not an offer when
        either answer reaches no goal (a search's "delivery?": the shared "no" node only says goodbye, so
        the flowchart says nothing about that question) or when no gets there as soon or sooner.
        """
        steps = {self.graph.nodes[b].get("when"): steps_to_goal(self.graph, b) for b in self.pending(NodeKind.ANSWER)}
        yes, no = steps.get("yes"), steps.get("no")
        return yes is not None and no is not None and yes < no

    def before_detour(self, task: str | None = None) -> str | None:
        """Where ``task`` was before its current anywhere-action (the dialogue resumes from there)."""
        return self._resume[task or self.task]

    def origin(self) -> str | None:
        """Where the dialogue is: the resolved branch if any, else the last action (None at the start)."""
        return self.resolution[self.task] or self.position[self.task]

    def switch(self, task: str) -> None:
        """Make ``task`` the current task (the system turned to another request)."""
        self._check_task(task)
        self.task = task

    def owner(self, action: str) -> str | None:
        """The task an action belongs to (None: no graph has it).

        The current task if the action is legal there, else a task where it is legal, else the current
        task if it has the action, else the first task that has it.
        """
        tasks = [self.task, *(t for t in self.graphs if t != self.task)]
        legal = next((t for t in tasks if action in self.legal_actions(t)), None)  # lazy: usually the current task
        return legal or next((t for t in tasks if action in self.graphs[t]), None)

    def advance(self, action: str) -> TrackerStep:
        """Record that the system took ``action``; judge it against the legal set and move there."""
        task = self.owner(action) or self.task
        allowed = self.legal_actions(task)
        step = TrackerStep(task=task, action=action, legal=action in allowed, allowed=allowed, index=len(self.steps))
        self.steps.append(step)
        self.task = task
        graph = self.graphs[task]
        if action in graph:
            previous = self.position[task]
            if graph.nodes[action].get("anywhere"):
                if previous is None or not graph.nodes[previous].get("anywhere"):
                    self._resume[task] = previous
            self.position[task] = action
            self.resolution[task] = None
        return step

    @property
    def path(self) -> list[str]:
        """Actions taken, in order."""
        return [s.action for s in self.steps]

    @property
    def violations(self) -> list[TrackerStep]:
        """The steps that were not legal."""
        return [s for s in self.steps if not s.legal]

    def completed(self, task: str | None = None) -> bool:
        """Whether a goal node of ``task`` (default: every task) was visited."""
        tasks = [task] if task else list(self.graphs)
        visited = {(s.task, s.action) for s in self.steps}
        return all(any((t, g) in visited for g in goal_nodes(self.graphs[t])) for t in tasks)

    def goal_arrivals(self) -> int:
        """How many times the path arrived at a goal node: goal steps that start a new round of service.

        A user who asked for several rounds of the same service (five trivia questions) is served once per
        arrival. Two results said in a row serve one request, unless the first ended with a question the
        user answered (a goal with answer branches: "Correct! Would you like to continue?").
        """
        arrivals, previous = 0, None
        for step in self.steps:
            graph = self.graphs[step.task]
            if step.action in graph and graph.nodes[step.action].get("goal"):
                repeated = previous is not None and not branches(self.graphs[previous.task], previous.action,
                                                                 NodeKind.ANSWER)
                arrivals += not repeated
                previous = step
            else:
                previous = None
        return arrivals

    def served(self, rounds: int = 1) -> bool:
        """Whether a request wanted ``rounds`` times is served: every task reached a goal, that many arrivals in all."""
        return self.completed() and self.goal_arrivals() >= rounds

    def at_terminal(self) -> bool:
        """True when the current task's position allows nothing more (a goodbye)."""
        node = self.position[self.task]
        return node is not None and not self.graph.nodes[node].get("anywhere") and is_terminal(self.graph, node)


def replay(tracker: FlowchartTracker, dialog: Dialog) -> Iterator[tuple[TrackerStep, str | None, int]]:
    """Feed a saved dialogue's system actions, queries and task switches to ``tracker``.

    Yields each step, the node the dialogue was at before it, and the index of the turn it belongs to
    (for a query: the turn after it). Turns with an ``action`` are the
    system's; an event ``query`` (data: ``task``, ``action`` = the query node, ``found``) is a query
    whose outcome resolves from ``found``; ``select_task`` (data: ``task``) switches task; a user turn
    after a question resolves its yes/no answer (its recorded ``answer``, else read from its words).
    Events sit before the turn whose index they carry.
    """
    events = defaultdict(list)
    for event in dialog.events:
        events[event.turn if event.turn is not None else len(dialog.turns)].append(event)
    system = {t.speaker for t in dialog.turns if t.action}
    for index in range(len(dialog.turns) + 1):
        for event in events[index]:
            task = event.data.get("task")
            if task in tracker.graphs:
                tracker.switch(task)
            if event.type == "query" and event.data.get("action"):
                origin = tracker.origin()
                yield tracker.advance(event.data["action"]), origin, index
                if event.data.get("found") is not None:
                    tracker.resolve_when(NodeKind.OUTCOME, "found" if event.data["found"] else "empty")
        if index == len(dialog.turns):
            break
        turn = dialog.turns[index]
        if turn.action:
            origin = tracker.origin()
            yield tracker.advance(turn.action), origin, index
        elif turn.speaker not in system and tracker.pending(NodeKind.ANSWER):
            answer = turn.metadata.get("answer") or answer_of(turn.text)  # a clear answer was recorded
            if answer:
                tracker.resolve_when(NodeKind.ANSWER, answer)
