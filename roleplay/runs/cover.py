"""Coverage-driven batches: before each dialogue, choose policy edges no dialogue has taken yet, and steer to them.

`CoverJob` wraps a batch job (``make(id, seed, steer=...)``: `roleplay.runs.jobs.ScenarioJob`, the
STAR job) for `roleplay.runs.batch.arun_batch` (``roleplay batch --cover``, ``roleplay star generate
--cover``). Dialogue ``i`` of the run (its position in the run's ids) gets a `Steering` towards its
*target*, an edge of its task graph that is coverable (`roleplay.policy.planning.PlanModel.coverable`:
reachable under the run's rules) and that no earlier dialogue took, then the other uncovered ones.

Determinism and resume. The target of dialogue ``i`` is a pure function of the batch seed, ``i`` and the
dialogues of the *waves* before it: ids are cut into waves of ``wave`` dialogues in run order, and dialogue
``i`` waits until every dialogue of the earlier waves is finished (generated or failed for good), then
ranks the still-uncovered edges by how often earlier dialogues aimed at them in vain, ties broken by a
hash of (seed, wave, edge), and takes the ``k``-th for the ``k``-th dialogue of its wave (so a wave aims
at distinct edges). Neither the concurrency nor the order in which dialogues finish changes a target,
and a resumed run rebuilds the same state from the folder's dialogues (``kill -9`` and resume gives the
same dialogues as an uninterrupted run). ``wave`` 1 (the default) is the most coverage per dialogue but
one dialogue at a time; a larger wave lets that many run at once. A dialogue that failed for good
counts as covering nothing; if a later run then generates it, only the dialogues after it can differ.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal

import networkx as nx

from roleplay.dialog import Dialog, dialog_failure
from roleplay.errors import ConfigError
from roleplay.policy._steering import PlanCache, Steering, graph_key, plan_model
from roleplay.policy.config import Policy
from roleplay.policy.edges import Edge, dialog_edges
from roleplay.policy.graph import NodeKind, node_kind
from roleplay.runs.batch import is_transient
from roleplay.runs.folder import RunFolder

__all__ = ["COVER_KINDS", "CoverJob", "CoverKind", "check_cover", "cover_candidates", "cover_kind"]

CoverKind = Literal["edges", "branches"]
COVER_KINDS: tuple[str, ...] = ("edges", "branches")


def cover_kind(kind: str) -> CoverKind:
    """``kind`` if it is a cover kind; a ConfigError naming the kinds if not."""
    if kind not in COVER_KINDS:
        raise ConfigError(f"Unknown --cover {kind!r}; use 'edges' (every edge of the policy graph) or 'branches' "
                          "(the edges into outcome and answer branches: a query that found nothing, a user's no).")
    return kind  # type: ignore[return-value]  # checked above


def check_cover(kind: str, graphs: Mapping[str, nx.DiGraph] | None) -> CoverKind:
    """``kind`` if it is a cover kind and a policy graph is there to cover; a ConfigError saying the fix if not."""
    kind = cover_kind(kind)
    if not graphs:
        raise ConfigError("--cover steers the agent that follows a policy graph, and this scenario has none; add a "
                          "policy: (graph: FILE.dot) to the scenario, or drop --cover.")
    return kind


def cover_candidates(graph: nx.DiGraph, kind: CoverKind, policy: Policy | None = None,
                     cache: PlanCache | None = None) -> list[Edge]:
    """The edges of ``graph`` a run under ``policy``'s settings can cover (only those into branches: ``branches``).

    No ``policy``: the settings of ``roleplay star generate`` (a goal-aware user served once).
    """
    edges = plan_model(graph, policy, cache).coverable()
    if kind == "branches":
        edges = {(u, v) for u, v in edges if node_kind(graph, v) in (NodeKind.OUTCOME, NodeKind.ANSWER)}
    return sorted(edges)


class CoverJob(AbstractAsyncContextManager["CoverJob"]):
    """``make(id, seed, steer=...)`` with a `Steering` towards uncovered edges (see the module).

    ``graphs_for(id)``: the task graphs dialogue ``id`` follows (task -> graph); ``ids``: the run's ids in
    order; ``out``: the run folder (read on entry to rebuild what earlier runs covered); ``policy``: the run's
    policy settings (user goal, repeats), for what is coverable (`cover_candidates`).
    """

    def __init__(self, make: Callable[..., Awaitable[Dialog]], ids: Sequence[Any],
                 graphs_for: Callable[[Any], Mapping[str, nx.DiGraph]], kind: CoverKind, out: str | Path, *,
                 seed: int = 0, wave: int = 1, attempts: int = 3, max_turns: int | None = None,
                 policy: Policy | None = None):
        if wave < 1:
            raise ConfigError(f"--cover-wave must be >= 1, got {wave}.")
        self.make, self.graphs_for, self.kind, self.out = make, graphs_for, kind, Path(out)
        self.seed, self.wave, self.attempts, self.max_turns = seed, wave, attempts, max_turns
        self.position = {dialog_id: k for k, dialog_id in enumerate(ids)}
        self.ids = list(ids)
        self.done: dict[int, dict[str, Any] | None] = {}  # position -> what it covered and aimed at (None: failed)
        self.tries: dict[int, int] = {}
        self.changed = asyncio.Condition()
        self.prefix = 0  # positions 0..prefix-1 are finished
        self.upto = 0  # the coverage state (covered, missed) is that of positions < upto
        self.covered: set[Any] = set()
        self.missed: dict[Any, int] = {}
        self.cache: PlanCache = {}
        self.policy = policy
        self.candidates: dict[str, list[Edge]] = {}  # graph_key -> its cover candidates

    async def __aenter__(self) -> CoverJob:
        if isinstance(self.make, AbstractAsyncContextManager):
            await self.make.__aenter__()
        if (self.out / "dialogs").is_dir():
            for dialog in RunFolder(self.out).iter_dialogs():
                if dialog.id in self.position and dialog_failure(dialog) is None:
                    self.done[self.position[dialog.id]] = self._summary(dialog)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if isinstance(self.make, AbstractAsyncContextManager):
            await self.make.__aexit__(*exc)

    async def __call__(self, dialog_id: Any, seed: int) -> Dialog:
        position = self.position[dialog_id]
        first = position - position % self.wave
        async with self.changed:
            await self.changed.wait_for(lambda: self._finished_before() >= first)
        steer = self.steering(position)
        try:
            dialog = await self.make(dialog_id, seed, steer=steer)
        except Exception as err:
            await self._finish(position, None, final=not is_transient(err))
            raise
        failed = dialog_failure(dialog) is not None
        await self._finish(position, None if failed else self._summary(dialog), final=not failed)
        return dialog

    def steering(self, position: int) -> Steering | None:
        """The steering of the dialogue at ``position`` (None: nothing left to cover on its graphs)."""
        first = position - position % self.wave
        ranked = self._ranked(self.graphs_for(self.ids[position]), first)
        if not ranked:
            return None
        task, target = ranked[(position - first) % len(ranked)]
        targets = [target, *(edge for t, edge in ranked if t == task and edge != target)]
        return Steering(task, targets, self.kind, self.max_turns, self.cache)

    def _ranked(self, graphs: Mapping[str, nx.DiGraph], first: int) -> list[tuple[str, Edge]]:
        """The edges the dialogues before ``first`` left uncovered, in the order dialogues take them as targets.

        Those aimed at in vain least often first, then by a hash of (seed, wave, edge).
        """
        covered, missed = self._state_before(first)
        left = [(task, edge) for task, graph in graphs.items() for edge in self._candidates(graph)
                if (task, edge) not in covered]
        wave = first // self.wave
        return sorted(left, key=lambda item: (missed.get(item, 0), _hash(f"{self.seed}:{wave}:{item}")))

    def _state_before(self, first: int) -> tuple[set[tuple[str, Edge]], dict[tuple[str, Edge], int]]:
        """The (task, edge) pairs the dialogues before ``first`` took, and their targets missed (how often).

        Kept and extended in run order (waves come in order), so a long run does not re-read every dialogue.
        """
        if first < self.upto:  # never in run order; rebuilt rather than wrong
            self.upto, self.covered, self.missed = 0, set(), {}
        for summary in filter(None, (self.done[p] for p in range(self.upto, first))):
            self.covered.update(summary["covered"])
            if summary["target"] is not None and not summary["reached"]:
                self.missed[summary["target"]] = self.missed.get(summary["target"], 0) + 1
        self.upto = max(self.upto, first)
        return self.covered, self.missed

    def _finished_before(self) -> int:
        """How many dialogues from the run's first are all finished (the waves up to there may start)."""
        while self.prefix in self.done:
            self.prefix += 1
        return self.prefix

    def _candidates(self, graph: nx.DiGraph) -> list[Edge]:
        key = graph_key(graph)
        if key not in self.candidates:
            self.candidates[key] = cover_candidates(graph, self.kind, self.policy, self.cache)
        return self.candidates[key]

    def _summary(self, dialog: Dialog) -> dict[str, Any]:
        """What a finished dialogue tells later targets: the (task, edge) pairs it took, and its target's fate."""
        graphs = self.graphs_for(dialog.id)
        covered = {(task, edge) for task, seen in dialog_edges(dialog, graphs).items() for edge in seen["edges"]}
        aim = dialog.metadata.get("coverage_target") or {}
        target = (aim["task"], tuple(aim["edge"])) if aim.get("edge") else None
        return {"covered": covered, "target": target, "reached": bool(aim.get("reached"))}

    async def _finish(self, position: int, summary: dict[str, Any] | None, final: bool) -> None:
        """Record a finished dialogue; a failure is final once its last attempt (or a lasting error) failed."""
        self.tries[position] = self.tries.get(position, 0) + 1
        if summary is None and not final and self.tries[position] < self.attempts:
            return
        async with self.changed:
            self.done[position] = summary
            self.changed.notify_all()


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
