"""Policy adherence of dialogues, one at a time and as a dataset, and against the real STAR dialogues.

Per dialogue (`evaluate_dialog`), the system's actions are replayed through a `FlowchartTracker`:

- ``legal_rate``: legal actions / system actions (the first action is legal if the graph may start there);
- ``first_violation``: index in ``dialog.turns`` of the first illegal action (None: none);
- ``completed``: a goal node of every task was reached; ``coverage``: share of the graphs' system
  nodes visited; ``path_length``: system actions taken (queries included);
- ``trimmed``: policy turns the engine trimmed to their last complete sentence (a `roleplay.guards.Trim`
  in the turn's metadata: the token limit cut the words); ``trimmed_turns`` in `summarize` is their share
  of the policy turns, shown beside the legal rate, so a legal turn that was cut never counts unseen;
- ``consistency``: how well utterances match their action's template reply. For each system turn with
  a template, the share of the template's content words (lower-cased words of 3+ letters, minus slot
  names and a short stop list) that the utterance contains, averaged. 1.0 = every content word of
  the template is said; 0.0 = none is. Cheap and lexical: it rewards saying what the action means
  in the template's words, and it cannot tell a paraphrase from a miss.

How it ended: ``ended_by_max_turns`` (the turn cap stopped it, not a natural ending) and
``user_quit_before_goal`` (the other party signalled the end, ``wants_end``/``end``, before a goal was
reached, as many times as a goal-aware user's ``rounds`` in the dialogue's metadata: simulated users are
known to give up early).

Dataset level (`summarize`): means per task (a multi-task dialogue counts for each task) and overall.
Against real dialogues (`compare_with_real`): action-sequence similarity 1 − normalised Levenshtein
distance between a generated dialogue's path and the real dialogue's path of the same id, the length
ratio (generated / real system actions), and the turn-count distributions of both.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import BaseModel, Field
from rapidfuzz.distance import Levenshtein

from roleplay._checked import checked, checked_items
from roleplay.dialog import Dialog, StopReason
from roleplay.evaluation.groups import arm_label, by_setup, variant_label
from roleplay.policy.graph import is_system
from roleplay.policy.tracker import FlowchartTracker, replay
from roleplay.runs.folder import RunFolder
from roleplay.text._trim import trim_of

__all__ = ["DialogMetrics", "compare_with_real", "consistency", "content_words", "evaluate_dialog", "evaluate_folder",
           "load_dialogs", "sequence_similarity", "summarize"]

_STOP = {"the", "and", "you", "your", "for", "that", "this", "are", "with", "can", "have", "would", "could",
         "what", "please", "there", "will", "any", "all", "was", "our", "not", "but", "how", "like"}
_WORD = re.compile(r"[a-z]{3,}")
_SLOT = re.compile(r"\{[^}]*\}")


class DialogMetrics(BaseModel):
    """Adherence of one dialogue to its policy graph(s)."""

    id: str | int | None
    tasks: list[str]
    variant: str = Field("-", description="The batch variant it played (`roleplay.evaluation.groups`).")
    arm: str = Field("-", description="The policy mode it ran in: enforced or prompt_only.")
    turns: int = Field(description="All turns of the dialogue.")
    path: list[str] = Field(description="System actions in order, queries included.")
    path_length: int
    legal_rate: float | None
    violations: int
    first_violation: int | None = Field(description="Turn index of the first illegal action.")
    completed: bool
    coverage: float
    consistency: float | None
    policy_turns: int = Field(0, description="Turns that carry a policy action.")
    trimmed: int = Field(0, description="Policy turns trimmed to their last complete sentence (a Trim record).")
    ended_by_max_turns: bool = Field(False, description="The turn cap ended the dialogue.")
    user_quit_before_goal: bool = Field(False, description="The other party signalled the end before the goal "
                                        "(every round the user wanted).")


def content_words(text: str) -> set[str]:
    """Lower-cased words of 3+ letters minus slot names and stop words."""
    return set(_WORD.findall(_SLOT.sub(" ", text.lower()))) - _STOP


def consistency(utterance: str, template: str) -> float | None:
    """Share of the template's content words found in the utterance (None if the template has none)."""
    wanted = content_words(template)
    if not wanted:
        return None
    return len(wanted & content_words(utterance)) / len(wanted)


def evaluate_dialog(dialog: Dialog, graphs: Mapping[str, nx.DiGraph]) -> DialogMetrics:
    """Replay ``dialog``'s system actions on ``graphs`` (task -> graph) and measure adherence."""
    checked(dialog, Dialog, "evaluate_dialog's dialog", "load one with Dialog.from_file(path)")
    example = "pass {task: read_dot('task.dot')}"
    checked_items(checked(graphs, Mapping, "evaluate_dialog's graphs", example).values(), nx.DiGraph,  # type: ignore[type-abstract]  # mypy#4717: an ABC as isinstance target
                  "evaluate_dialog's graphs (their values)", example)
    tracker = FlowchartTracker(dict(graphs))
    first_violation = goal_turn = None
    rounds = int(dialog.metadata.get("user", {}).get("goal", {}).get("rounds", 1))
    for step, _, turn_index in replay(tracker, dialog):
        if not step.legal and first_violation is None:
            first_violation = turn_index
        if goal_turn is None and tracker.served(rounds):
            goal_turn = turn_index
    steps = tracker.steps
    scores = []
    for turn in dialog.turns:
        task = tracker.owner(turn.action) if turn.action else None
        if task is not None:
            score = consistency(turn.text, graphs[task].nodes[turn.action].get("template", ""))
            if score is not None:
                scores.append(score)
    system_nodes = {(t, n) for t, g in graphs.items() for n in g if is_system(g, n)}
    visited = {(s.task, s.action) for s in steps} & system_nodes
    return DialogMetrics(
        id=dialog.id, tasks=list(graphs), variant=variant_label(dialog), arm=arm_label(dialog),
        turns=len(dialog.turns), path=[s.action for s in steps],
        path_length=len(steps), legal_rate=sum(s.legal for s in steps) / len(steps) if steps else None,
        violations=sum(not s.legal for s in steps), first_violation=first_violation,
        completed=tracker.completed(), coverage=len(visited) / len(system_nodes) if system_nodes else 0.0,
        consistency=statistics.fmean(scores) if scores else None,
        policy_turns=sum(1 for t in dialog.turns if t.action),
        trimmed=sum(1 for t in dialog.turns if t.action and trim_of(t.metadata) is not None),
        ended_by_max_turns=dialog.stop_reason == StopReason.MAX_TURNS,
        user_quit_before_goal=_quit_before(dialog, len(dialog.turns) if goal_turn is None else goal_turn),
    )


def _quit_before(dialog: Dialog, goal_turn: int) -> bool:
    """True when a party without actions (the user) signalled the end before turn ``goal_turn``."""
    system = {t.speaker for t in dialog.turns if t.action}
    return any(t.speaker not in system and (t.metadata.get("wants_end") or t.metadata.get("end"))
               for t in dialog.turns[:goal_turn])


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def summarize(metrics: Sequence[DialogMetrics]) -> list[dict[str, Any]]:
    """One row per task and set-up (variant and policy arm), and an ``ALL`` row: dialogue count and mean metrics.

    Beside the legal rate: ``consistency`` (utterance vs action) and ``trimmed_turns`` (the share of policy
    turns trimmed to whole sentences), so a legal rate of cut or off-action turns is seen for what it is.
    With several set-ups, each also gets an ``ALL`` row of its own (`roleplay.evaluation.groups`).
    """
    metrics = checked_items(metrics, DialogMetrics, "summarize's metrics", "pass [evaluate_dialog(d, graphs), ...]")
    groups: dict[tuple[str, str, str], list[DialogMetrics]] = defaultdict(list)
    for m in metrics:
        for task in m.tasks:
            groups[(task, m.variant, m.arm)].append(m)
    setups = by_setup(metrics, lambda m: (m.variant, m.arm))
    per_setup = [(("ALL", *setup), group) for setup, group in setups.items()] if len(setups) > 1 else []
    rows = []
    for (task, variant, arm), group in [*sorted(groups.items()), *per_setup, (("ALL", "ALL", "ALL"), list(metrics))]:
        rows.append({
            "task": task, "variant": variant, "arm": arm, "dialogs": len(group),
            "legal_rate": _mean(m.legal_rate for m in group),
            "consistency": _mean(m.consistency for m in group),
            "trimmed_turns": _share(sum(m.trimmed for m in group), sum(m.policy_turns for m in group)),
            "dialogs_without_violation": _mean(float(m.violations == 0) for m in group),
            "completion": _mean(float(m.completed) for m in group),
            "coverage": _mean(m.coverage for m in group),
            "path_length": _mean(m.path_length for m in group),
            "turns": _mean(m.turns for m in group),
            "ended_by_max_turns": _mean(float(m.ended_by_max_turns) for m in group),
            "user_quit_before_goal": _mean(float(m.user_quit_before_goal) for m in group),
        })
    return rows


def sequence_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """1 − normalised Levenshtein distance between two action sequences (1.0 = identical)."""
    return 1.0 - Levenshtein.normalized_distance(list(a), list(b))


def compare_with_real(generated: Sequence[DialogMetrics], real: Mapping[Any, DialogMetrics]) -> dict[str, Any]:
    """Action-sequence similarity and length ratio to the real dialogue of the same id; turn counts of both."""
    example = "pass evaluate_dialog's results: a list, and a mapping id -> result"
    generated = checked_items(generated, DialogMetrics, "compare_with_real's generated", example)
    checked_items(checked(real, Mapping, "compare_with_real's real", example).values(), DialogMetrics,  # type: ignore[type-abstract]  # mypy#4717: an ABC as isinstance target
                  "compare_with_real's real (its values)", example)
    pairs = [(g, real[str(g.id)]) for g in generated if str(g.id) in real]
    ratios = [g.path_length / r.path_length for g, r in pairs if r.path_length]
    def spread(values: Sequence[float]) -> dict[str, float | None]:
        return {"mean": _mean(values), "median": statistics.median(values) if values else None,
                "min": min(values, default=None), "max": max(values, default=None)}
    return {
        "pairs": len(pairs),
        "action_sequence_similarity": _mean(sequence_similarity(g.path, r.path) for g, r in pairs),
        "length_ratio": {**spread(ratios), "within_0.8_1.25": _mean(float(0.8 <= x <= 1.25) for x in ratios)},
        "generated_turns": spread([g.turns for g, _ in pairs]),
        "real_turns": spread([r.turns for _, r in pairs]),
        "generated_path_length": spread([g.path_length for g, _ in pairs]),
        "real_path_length": spread([r.path_length for _, r in pairs]),
    }


def _folders(folder: str | Path | Sequence[str | Path]) -> list[Any]:
    return list(folder) if isinstance(folder, (list, tuple)) else [folder]  # a bad path fails in RunFolder


def load_dialogs(folder: str | Path | Sequence[str | Path]) -> list[Dialog]:
    """Every dialogue of a run folder, or of several in turn (any layout: `roleplay.runs.folder.RunFolder`)."""
    return [dialog for each in _folders(folder) for dialog in RunFolder(each).load_dialogs()]


def evaluate_folder(folder: str | Path | Sequence[str | Path],
                    graphs_for: Callable[[Dialog], Mapping[str, nx.DiGraph]],
                    real: Callable[[Dialog], Dialog | None] | None = None) -> dict[str, Any]:
    """Evaluate every dialogue in ``folder``, or in several folders together: metrics, summary, real comparison."""
    metrics, real_metrics = [], {}
    for dialog in (d for each in _folders(folder) for d in RunFolder(each).iter_dialogs()):
        graphs = graphs_for(dialog)
        metrics.append(evaluate_dialog(dialog, graphs))
        original = real(dialog) if real else None
        if original is not None:
            real_metrics[str(dialog.id)] = evaluate_dialog(original, graphs)
    report: dict[str, Any] = {"summary": summarize(metrics), "dialogs": [m.model_dump() for m in metrics]}
    if real is not None:
        report["real_summary"] = summarize(list(real_metrics.values()))
        report["comparison"] = compare_with_real(metrics, real_metrics)
    return report
