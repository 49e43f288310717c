"""What `roleplay report` shows from judges and comparisons: tables, and each dialogue's judge reasoning.

Read from the run folder: ``judgements/`` (`roleplay judge`), ``comparison.json`` (`roleplay compare`);
computed here: pass^k when the dialogues record their trials (success: the policy tracker's goal),
and the persona rule check. Each block is a titled table; the reasoning is HTML shown under a
dialogue's transcript when it is opened.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from roleplay.dialog import Dialog
from roleplay.evaluation.judge import Judgement
from roleplay.evaluation.judging import load_judgements
from roleplay.evaluation.persona_check import persona_flags
from roleplay.evaluation.scores import (
    SuccessRule,
    agreement_rows,
    judge_rows,
    pass_k_report,
    persona_rule_rows,
    sim_error_rows,
)

__all__ = ["judged_blocks", "reasoning_html"]


def _block(title: str, sub: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"title": title, "sub": sub, "rows": list(rows)}


def _comparison(folder: Path) -> dict[str, Any] | None:
    path = folder / "comparison.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("rows"), list) else None


def judged_blocks(folder: str | Path, dialogs: Sequence[Dialog]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The report's blocks, and the reasoning HTML per dialogue id.

    Blocks: judge scores, agreement, simulator errors, pass^k, persona rules, the corpus comparison.
    """
    pairs = load_judgements(folder)
    blocks = []
    if pairs:
        blocks.append(_block("Judge scores", "Mean score per dialogue (over its speakers or turns), per rubric, "
                             "judge and variant. Scores of a small model are close to noise.", judge_rows(pairs)))
        agreement = agreement_rows(pairs)
        if agreement:
            blocks.append(_block("Judge agreement", "Krippendorff's alpha (interval) over all judges and mean "
                                 "pairwise Spearman, unit by unit: 1 agree, 0 chance.", agreement))
        errors = sim_error_rows(pairs)
        if errors:
            blocks.append(_block("User-simulator errors", "Dialogues where a judge found that the simulated user "
                                 "broke its instructions (the task rubric's review).", errors))
    passk = pass_k_report(dialogs, SuccessRule("completed"), pairs) if any(
        isinstance(d.metadata.get("trial"), dict) for d in dialogs) else None
    if passk:
        blocks.append(_block("pass^k", f"{passk['tasks']} tasks, {passk['trials']} trials; success: the policy "
                             f"tracker reached a goal ({passk['no_outcome']} dialogues without an outcome).",
                             passk["rows"]))
    summary, flags = persona_rule_rows(dialogs)
    blocks.append(_block("Persona rule check", f"{summary['flagged_turns']} of {summary['turns']} turns state a "
                         "name, age, role or fact that contradicts the speaker's persona.", flags[:200]))
    comparison = _comparison(Path(folder))
    if comparison:
        blocks.append(_block("Distance to the reference corpus", f"Against {comparison.get('reference', '?')}: "
                             "distance of a run sample to one half of the reference beside the baseline between the "
                             "two halves (same sizes); excess = distance - baseline.", comparison["rows"]))
    by_dialog: dict[str, list[Judgement]] = defaultdict(list)
    for _, judgement in pairs:
        by_dialog[str(judgement.dialog_id)].append(judgement)
    reasoning = {str(d.id): reasoning_html(by_dialog.get(str(d.id), []), d) for d in dialogs}
    return blocks, {k: v for k, v in reasoning.items() if v}


def reasoning_html(judgements: Sequence[Judgement], dialog: Dialog) -> str:
    """Each judge's scores and reasoning for one dialogue, and its persona rule flags, as escaped HTML."""
    parts = []
    for judgement in judgements:
        rows = "".join(
            f"<tr><td>{escape(s.dimension)}</td><td>{escape(_who(s.speaker, s.turn))}</td><td><b>{s.score}</b></td>"
            f"<td class='rp-why'>{escape(s.reasoning)}</td></tr>" for s in judgement.scores)
        review = "" if judgement.user_sim_error is None else (
            f"<p class='rp-sub'>User-simulator error: <b>{'yes' if judgement.user_sim_error else 'no'}</b> "
            f"({escape(judgement.user_sim_reason or '')})</p>")
        skipped = f"<p class='rp-sub'>Not asked: {escape('; '.join(judgement.skipped))}</p>" if judgement.skipped \
            else ""
        parts.append(f"<div class='rp-judgement'><h4>{escape(judgement.judge)} on {escape(judgement.rubric)} "
                     f"<span class='rp-sub'>({judgement.calls} calls, {judgement.completion_tokens} tokens)</span>"
                     f"</h4>{review}{skipped}<table class='rp-table'><thead><tr><th>dimension</th><th>judged</th>"
                     f"<th>score</th><th>reasoning</th></tr></thead><tbody>{rows}</tbody></table></div>")
    flags = persona_flags(dialog)
    if flags:
        items = "".join(f"<li>turn {f.turn} ({escape(f.speaker)}): {escape(f.field)} stated as "
                        f"&ldquo;{escape(f.stated)}&rdquo;, persona says &ldquo;{escape(f.expected)}&rdquo;</li>"
                        for f in flags)
        parts.append(f"<div class='rp-judgement'><h4>Persona rule check</h4><ul>{items}</ul></div>")
    return str(Markup("".join(parts)))


def _who(speaker: str | None, turn: int | None) -> str:
    if turn is not None:
        return f"turn {turn} ({speaker})" if speaker else f"turn {turn}"
    return speaker or "conversation"
