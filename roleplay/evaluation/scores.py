"""Tables of what judges said: scores per dimension and variant, judge agreement, simulator errors, pass^k.

Input is `roleplay.evaluation.judging.load_judgements`' (dialogue, judgement) pairs. A dialogue's
score on a dimension is the mean over its units (speakers, turns); agreement compares judges unit by
unit (the same dimension, dialogue, speaker and turn), with Krippendorff's alpha (interval) over every
judge and Spearman's rho averaged over pairs of judges.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.evaluation.agreement import krippendorff_alpha, spearman
from roleplay.evaluation.groups import setup_of
from roleplay.evaluation.judge import Judgement
from roleplay.evaluation.passk import pass_k_table
from roleplay.evaluation.persona_check import persona_flags

__all__ = ["SuccessRule", "agreement_rows", "judge_rows", "pass_k_report", "persona_rule_rows", "sim_error_ids",
           "sim_error_rows"]

Pairs = Sequence[tuple[Dialog, Judgement]]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def judge_rows(pairs: Pairs) -> list[dict[str, Any]]:
    """Mean score per (rubric, judge, variant, policy arm, dimension), with the number of dialogues behind it."""
    groups: dict[tuple[str, str, str, str, str], list[float]] = defaultdict(list)
    for dialog, judgement in pairs:
        for dimension, mean in judgement.means().items():
            groups[(judgement.rubric, judgement.judge, *setup_of(dialog), dimension)].append(mean)
    return [{"rubric": r, "judge": j, "variant": v, "arm": a, "dimension": d, "mean": _r(sum(xs) / len(xs)),
             "dialogs": len(xs)} for (r, j, v, a, d), xs in sorted(groups.items())]


def agreement_rows(pairs: Pairs) -> list[dict[str, Any]]:
    """Per (rubric, dimension) judged by two or more judges: units, alpha (interval), mean pairwise Spearman."""
    units: dict[tuple[str, str], dict[tuple[Any, ...], dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for _, judgement in pairs:
        for score in judgement.scores:
            key = (str(judgement.dialog_id), score.speaker, score.turn)
            units[(judgement.rubric, score.dimension)][key][judgement.judge] = score.score
    rows = []
    for (rubric, dimension), by_unit in sorted(units.items()):
        judges = sorted({j for values in by_unit.values() for j in values})
        if len(judges) < 2:
            continue
        table = [[values.get(j) for j in judges] for values in by_unit.values()]
        rhos = []
        for a, b in combinations(range(len(judges)), 2):
            paired = [(x, y) for row in table if (x := row[a]) is not None and (y := row[b]) is not None]
            rho = spearman([x for x, _ in paired], [y for _, y in paired]) if len(paired) >= 2 else None
            if rho is not None:
                rhos.append(rho)
        rows.append({"rubric": rubric, "dimension": dimension, "judges": len(judges), "units": len(table),
                     "alpha": _r(krippendorff_alpha(table, "interval")),
                     "spearman": _r(sum(rhos) / len(rhos)) if rhos else None})
    return rows


def sim_error_rows(pairs: Pairs) -> list[dict[str, Any]]:
    """Per (rubric, judge) that reviewed the user simulator: dialogues reviewed, flagged, and the rate."""
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for _, judgement in pairs:
        if judgement.user_sim_error is not None:
            groups[(judgement.rubric, judgement.judge)].append(judgement.user_sim_error)
    return [{"rubric": r, "judge": j, "reviewed": len(xs), "user_sim_errors": sum(xs), "rate": _r(sum(xs) / len(xs))}
            for (r, j), xs in sorted(groups.items())]


def sim_error_ids(pairs: Pairs) -> set[str]:
    """Ids of dialogues that any judge marked as a user-simulator error."""
    return {str(j.dialog_id) for _, j in pairs if j.user_sim_error}


def persona_rule_rows(dialogs: Iterable[Dialog]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The rule check over ``dialogs``: a summary (turns checked, flagged, rate) and one row per flag."""
    turns, flags = 0, []
    for dialog in dialogs:
        turns += len(dialog.turns)
        flags += [{"dialog": dialog.id, **flag.model_dump()} for flag in persona_flags(dialog)]
    flagged = len({(f["dialog"], f["turn"]) for f in flags})
    return {"turns": turns, "flagged_turns": flagged, "rate": _r(flagged / turns) if turns else None}, flags


class SuccessRule:
    """When a dialogue counts as a success for pass^k.

    ``completed``: the policy tracker reached a goal; ``<rubric>.<dimension> >= N``: the judges' mean on
    that dimension is at least N.
    """

    _JUDGED = re.compile(r"^\s*([\w.-]+)\.(\w+)\s*>=\s*(-?\d+(?:\.\d+)?)\s*$")

    def __init__(self, text: str):
        self.text = text.strip()
        match = self._JUDGED.match(self.text)
        if self.text != "completed" and match is None:
            raise ConfigError(f"Bad success rule {text!r}: use 'completed' (the policy tracker reached a goal) or "
                              "'<rubric>.<dimension>>=N', e.g. 'task.goal_completed>=2'.")
        self.judged = match.groups() if match else None

    def outcome(self, dialog: Dialog, judged: dict[str, list[Judgement]]) -> bool | None:
        """Whether ``dialog`` succeeded (None: nothing says, e.g. no policy record or not judged)."""
        if self.judged is None:
            policy = dialog.metadata.get("policy")
            return bool(policy["completed"]) if isinstance(policy, dict) and "completed" in policy else None
        rubric, dimension, threshold = self.judged
        means = [j.means()[dimension] for j in judged.get(str(dialog.id), [])
                 if j.rubric == rubric and dimension in j.means()]
        return sum(means) / len(means) >= float(threshold) if means else None


def pass_k_report(dialogs: Sequence[Dialog], rule: SuccessRule, pairs: Pairs,
                  drop: set[str] = frozenset()) -> dict[str, Any] | None:  # type: ignore[assignment]
    """pass^1..pass^K over the run's trials (None if its dialogues carry no ``metadata["trial"]``)."""
    judged: dict[str, list[Judgement]] = defaultdict(list)
    for _, judgement in pairs:
        judged[str(judgement.dialog_id)].append(judgement)
    outcomes: dict[Any, list[bool]] = defaultdict(list)
    unknown = dropped = 0
    for dialog in dialogs:
        trial = dialog.metadata.get("trial")
        if not isinstance(trial, dict):
            continue
        if str(dialog.id) in drop:
            dropped += 1
            continue
        result = rule.outcome(dialog, judged)
        if result is None:
            unknown += 1
            continue
        outcomes[trial["task"]].append(result)
    if not outcomes and not unknown:
        return None
    return {"success": rule.text, "tasks": len(outcomes), "trials": sum(map(len, outcomes.values())),
            "no_outcome": unknown, "dropped_sim_errors": dropped, "rows": pass_k_table(outcomes)}
