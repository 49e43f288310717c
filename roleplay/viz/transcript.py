"""A dialogue as people read it: `dialog_html` (notebooks, reports) and `dialog_terminal` (``roleplay show``).

Both views show the same things from the same rows: each speaker in its own colour, a turn's policy
action with a legal/illegal badge, flags for what the engine did to a turn (``trimmed``: cut to its last
complete sentence; ``fallback``: the first option taken; ``words_fallback``: the template said), tool
calls and other events (collapsible in HTML, one dim line in a terminal), the stop reason and a summary
of the run's facts. HTML comes from a Jinja2 template with autoescaping on, so no text from a model
reaches the page unescaped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Group
from rich.text import Text

from roleplay._checked import checked
from roleplay.dialog import Dialog, Event
from roleplay.sentences import terminal_safe
from roleplay.text._trim import trim_of
from roleplay.viz._tables import number_text, sideways

__all__ = ["dialog_html", "dialog_terminal", "facts", "terminal_safe", "transcript_rows", "transcript_css"]

PALETTE = ("#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be123c", "#4d7c0f", "#a16207")
TEMPLATES = Environment(loader=PackageLoader("roleplay.viz", "templates"), autoescape=select_autoescape(["j2"]),
                        keep_trailing_newline=False)
TEMPLATES.filters.update(number=number_text, sideways=sideways)  # rounded cells, wide tables on their side


def transcript_css() -> str:
    """The stylesheet of `dialog_html`'s classes (``rp-*``)."""
    return resources.files("roleplay.viz").joinpath("templates/transcript.css").read_text(encoding="utf-8")


def _event_summary(event: Event) -> str:
    data = event.data
    if event.type == "query":
        found = data.get("error") or (f"{data.get('total', len(data.get('items') or []))} found"
                                      if data.get("found") else "nothing found")
        legal = "" if data.get("legal", True) else " (illegal)"
        return f"{data.get('action', '?')}{legal} → {found}"
    if event.type == "select_task":
        return f"task → {data.get('task')}"
    return ", ".join(f"{k}={v}" for k, v in list(data.items())[:3])[:160]


def transcript_rows(dialog: Dialog) -> list[dict[str, Any]]:
    """Turns and events in the order they happened (an event sits before the turn whose index it carries)."""
    events: dict[int, list[Event]] = defaultdict(list)
    for event in dialog.events:
        events[event.turn if event.turn is not None else len(dialog.turns)].append(event)
    colours: dict[str | None, str] = {speaker: PALETTE[i % len(PALETTE)] for i, speaker in enumerate(dialog.speakers)}
    rows: list[dict[str, Any]] = []
    for index in range(len(dialog.turns) + 1):
        rows += [{"event": e, "summary": _event_summary(e), "data": json.dumps(e.data, indent=2, default=str)}
                 for e in events[index]]
        if index < len(dialog.turns):
            turn = dialog.turns[index]
            flags = [name for name in ("fallback", "words_fallback", "wants_end") if turn.metadata.get(name)]
            if trim_of(turn.metadata) is not None:
                flags.append("trimmed")
            rows.append({"turn": turn, "colour": colours.get(turn.speaker, PALETTE[0]),
                         "legal": turn.metadata.get("legal"), "flags": flags})
    return rows


def facts(dialog: Dialog) -> list[tuple[str, str]]:
    """The run facts worth a glance, as (name, value): turns, model, seed, tokens, time, variant, policy."""
    meta = dialog.metadata
    shown: list[tuple[str, Any]] = [("turns", len(dialog.turns)), ("model", _model_label(dialog.model)),
                                    ("seed", dialog.seed), ("tokens", meta.get("completion_tokens")),
                                    ("seconds", meta.get("seconds"))]
    if isinstance(meta.get("variant"), dict):
        shown.append(("variant", ", ".join(f"{k}={v}" for k, v in meta["variant"].items())))
    policy = meta.get("policy") if isinstance(meta.get("policy"), dict) else {}
    if policy:
        trimmed = sum(1 for t in dialog.turns if t.action and trim_of(t.metadata) is not None)
        shown += [("policy", policy.get("mode")), ("legal rate", policy.get("legal_rate")),
                  ("trimmed turns", trimmed),
                  ("violations", len(policy.get("violations") or [])), ("goal reached", policy.get("completed"))]
    shown.append(("error", meta.get("error")))
    return [(name, str(value)) for name, value in shown if value is not None]


def _model_label(model: str | dict[str, str] | None) -> str | None:
    if isinstance(model, dict):
        return ", ".join(f"{speaker}={name}" for speaker, name in model.items())
    return model


def _title(dialog: Dialog) -> str:
    scenario = dialog.scenario.get("name") if isinstance(dialog.scenario, dict) else dialog.scenario
    return " · ".join(str(part) for part in (dialog.id, scenario) if part not in (None, ""))


def dialog_html(dialog: Dialog, style: bool = True) -> str:
    """The dialogue as an HTML fragment; ``style=False`` leaves out the stylesheet (a page that has it once)."""
    checked(dialog, Dialog, "dialog_html's dialog", "load one with Dialog.from_file(path)")
    return TEMPLATES.get_template("transcript.html.j2").render(
        title=_title(dialog), stop=dialog.stop_reason.value if dialog.stop_reason else None, facts=facts(dialog),
        rows=transcript_rows(dialog), style=style, css=transcript_css() if style else "")


def dialog_terminal(dialog: Dialog, scenario: bool = False) -> Group:
    """The same view for a terminal (rich): header, ``[speaker] text`` with action badges, events, stop reason."""
    lines: list[Text] = []
    if dialog.id is not None:
        lines.append(Text(f"Dialogue ID: {terminal_safe(dialog.id)}", style="bold"))
    lines += [Text(f"Model: {terminal_safe(_model_label(dialog.model))}"), Text(f"Seed: {dialog.seed}")]
    if scenario and dialog.scenario:
        shown = dialog.scenario if isinstance(dialog.scenario, str) else json.dumps(dialog.scenario, indent=2)
        lines.append(Text(f"Scenario: {terminal_safe(shown)}"))
    for row in transcript_rows(dialog):
        if "event" in row:
            lines.append(Text(terminal_safe(f"    ⚙ {row['event'].type}: {row['summary']}"), style="dim"))
            continue
        turn = row["turn"]
        line = Text.assemble((f"[{terminal_safe(turn.speaker)}]", f"bold {row['colour']}"), " ",
                             terminal_safe(turn.text))
        if turn.action:
            line.append(f"  ‹{terminal_safe(turn.action)}›", style="magenta")
        if row["legal"] is not None:
            line.append(" ✓" if row["legal"] else " ✗ illegal", style="green" if row["legal"] else "bold red")
        for flag in row["flags"]:
            line.append(f" [{terminal_safe(flag)}]", style="yellow")
        lines.append(line)
    if dialog.stop_reason is not None:
        lines.append(Text(f"Stop reason: {dialog.stop_reason.value}", style="bold"))
    lines.append(Text(terminal_safe(" · ".join(f"{name} {value}" for name, value in facts(dialog))), style="dim"))
    return Group(*lines)
