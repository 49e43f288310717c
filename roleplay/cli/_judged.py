"""What `roleplay evaluate` adds from a run's judgements, as tables and CSV files.

Judge scores, agreement, simulator errors, the persona rule check and pass^k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roleplay.dialog import Dialog


def judged_sections(folder: Path, dialogs: list[Dialog], success: str | None, drop_sim_errors: bool
                    ) -> dict[str, Any]:
    """What `roleplay evaluate` adds: judge scores, agreement, simulator errors, persona rule flags, pass^k."""
    from roleplay.evaluation.judging import load_judgements
    from roleplay.evaluation.scores import (
        SuccessRule,
        agreement_rows,
        judge_rows,
        pass_k_report,
        persona_rule_rows,
        sim_error_ids,
        sim_error_rows,
    )

    pairs = load_judgements(folder)
    persona_summary, persona_list = persona_rule_rows(dialogs)
    sections: dict[str, Any] = {"persona_rules": {**persona_summary, "flags": persona_list}}
    if pairs:
        sections["judges"] = {"scores": judge_rows(pairs), "agreement": agreement_rows(pairs),
                              "user_sim_errors": sim_error_rows(pairs)}
    trials = any(isinstance(d.metadata.get("trial"), dict) for d in dialogs)
    if trials or success is not None:
        drop = sim_error_ids(pairs) if drop_sim_errors else set()
        passk = pass_k_report(dialogs, SuccessRule(success or "completed"), pairs, drop)
        if passk is None:
            raise click.ClickException(f"No dialogue in {folder} records its trial; run `roleplay batch --trials K` "
                                       "to measure pass^k.")
        sections["pass_k"] = passk
    return sections


def echo_judged(sections: dict[str, Any], report_path: Path) -> None:
    """Print the judged sections as tables and write each as CSV beside the report."""
    from roleplay.cli._tables import echo_table
    from roleplay.evaluation.report import write_csv

    judges = sections.get("judges")
    tables = []
    if judges:
        tables += [("Judge scores (mean per dialogue)", "judges", judges["scores"]),
                   ("Judge agreement (Krippendorff's alpha, interval; mean pairwise Spearman)", "agreement",
                    judges["agreement"]),
                   ("User-simulator errors (review dimension)", "user_sim_errors", judges["user_sim_errors"])]
    passk = sections.get("pass_k")
    if passk:
        tables.append((f"pass^k over {passk['tasks']} tasks, {passk['trials']} trials (success: {passk['success']}; "
                       f"{passk['no_outcome']} without an outcome, {passk['dropped_sim_errors']} simulator errors "
                       "left out)", "pass_k", passk["rows"]))
    rules = sections["persona_rules"]
    click.echo(f"\nPersona rule check: {rules['flagged_turns']} of {rules['turns']} turns contradict a stated "
               "persona field")
    for title, name, rows in tables:
        if rows or name == "pass_k":  # an empty pass^k still says why (no outcome)
            click.echo()
            echo_table(rows, title)
        if rows:
            write_csv(rows, report_path.with_name(f"{report_path.name}.{name}.csv"))
