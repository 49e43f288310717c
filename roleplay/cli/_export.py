"""`roleplay export`: a run folder's dialogues as training data (jsonl, sharegpt, openai, hf, next_action)."""

from __future__ import annotations

from pathlib import Path

import click

from roleplay.cli._base import OutputPath, cli, friendly
from roleplay.runs.export import EXPORT_FORMATS


@cli.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="next_action: one row per policy action (history -> action).")
@click.option("--out", type=OutputPath(), required=True, help="Output file (a folder for hf).")
@click.option("--roles", default=None, help="Speaker -> role, e.g. Patient=assistant (default: the policy agent, "
                                            "else the second speaker, is the assistant; everyone else the user).")
@click.option("--system/--no-system", default=None,
              help="Open each dialogue with a system message: the assistant's persona. Default: on for openai.")
@click.option("--drop-flagged", is_flag=True, help="Leave out dialogues that failed or hold a turn the guards "
                                                   "flagged or an illegal policy action (each one is listed).")
@click.option("--labels", is_flag=True, help="Add each message's policy action as an `action` field "
                                             "(openai, sharegpt, hf).")
@click.option("--legal", is_flag=True, help="With --labels: also the legal action set (`legal_actions`).")
@friendly
def export_command(folder: Path, fmt: str, out: Path, roles: str | None, system: bool | None, drop_flagged: bool,
                   labels: bool, legal: bool) -> None:
    """Export the dialogues in FOLDER, one per line (jsonl, sharegpt, openai) or as a HF dataset.

    Rows carry id (text), seed, model, scenario and every speaker's persona. next_action writes one line
    per policy action instead (history -> action); see docs/batches.md and docs/coverage.md.
    """
    from roleplay.runs.export import export, parse_roles

    left_out: list[str] = []
    count = export(folder, fmt, out, parse_roles(roles), labels=labels, legal=legal, system=system,
                   drop_flagged=drop_flagged, on_left_out=lambda dialog, why: left_out.append(f"{dialog.id}: {why}"))
    for line in left_out:
        click.echo(f"Left out dialogue {line}", err=True)
    dropped = f"; left out {len(left_out)} flagged or failed dialogue(s)" if drop_flagged else ""
    click.echo(f"Exported {count} {'actions' if fmt == 'next_action' else 'dialogues'} to {out} ({fmt}"
               f"{', with action labels' if labels else ''}{dropped}).")
