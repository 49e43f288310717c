"""`roleplay intent-chat`: user–assistant chats from an intent taxonomy."""

from __future__ import annotations

from pathlib import Path

import click

from roleplay.cli._base import OutputPath, cli, friendly, model_option


@cli.command("intent-chat")
@click.option("--taxonomy", type=click.Path(path_type=Path), default=None,
              help="Taxonomy YAML (categories of intents). Default: the bundled one (`roleplay scenarios --paths`).")
@click.option("--per-intent", type=click.IntRange(min=1), default=20, show_default=True,
              help="Conversations per intent.")
@click.option("--turns", type=click.IntRange(min=2), default=6, show_default=True,
              help="Messages per conversation, user + assistant (6 = 3 questions, 3 answers); even.")
@click.option("--out", type=OutputPath(), required=True, help="JSONL file (work in OUT.parts/).")
@model_option("Model, e.g. embedded, ollama:qwen2.5:14b, openai:gpt-4o-mini, llamacpp:/x.gguf.", default="embedded")
@click.option("--temperature", type=float, default=0.9, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True)
@friendly
def intent_chat(taxonomy: Path | None, per_intent: int, turns: int, out: Path, model: str, temperature: float,
                seed: int, concurrency: int) -> None:
    """Synthesize consistent user–assistant conversations from a taxonomy of intents (resumable)."""
    from roleplay.intent_chat import IntentChatGenerator
    from roleplay.resources import intents_taxonomy

    parts = out.with_name(out.name + ".parts")
    if out.exists() and not parts.is_dir():  # a resume finds its parts folder; anything else is someone's file
        raise click.ClickException(f"{out} exists and was not written by intent-chat (there is no {parts}); pass a "
                                   "new --out path, or delete the file first.")
    generator = IntentChatGenerator(model, per_intent, turns, temperature, taxonomy or intents_taxonomy(), seed=seed,
                                    concurrency=concurrency)
    click.echo(f"{generator.total} conversations of {turns} messages -> {out}")
    report = generator.run(out)
    click.echo(f"Wrote {report['conversations']} conversations ({report['dropped']} dropped by the filters, "
               f"regenerated: {report['regenerations_by_reason'] or 'none'}); distinct-1 {report['distinct_1']}, "
               f"distinct-2 {report['distinct_2']}.")
