"""Synthetic STAR dialogues for any real dialogue's scenario, one at a time or as a resumable batch.

Two ways, as in the seed tutorial: ``description`` (one model writes the whole dialogue from
`STAR.get_scenario_description`, actions labelled in the JSON) and ``roleplay`` (a User agent and a
System agent, the System kept on the task graphs by a `PolicyOrchestrator`; ``enforce=False`` gives the
prompt-only baseline). Speakers are ``User`` and ``System``; the seed defaults to the dialogue id.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from roleplay.datasets.star.loader import STAR, SYSTEM, USER
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.generators import AgentSpec, DialogGenerator, PersonaDialogGenerator
from roleplay.policy.orchestrator import Policy
from roleplay.policy.tools import QueryTool

Mode = Literal["roleplay", "description"]
MODES = ("roleplay", "description")


MAX_DESCRIBED_TURNS = 16
MAX_TURN_CHARS = 200


def description_output_format(scenario: dict[str, Any]) -> dict[str, Any]:
    """JSON schema of a described STAR dialogue: User/System turns, System turns with their action.

    Bounded (turn count, turn length) so that constrained decoding closes the JSON within the token budget.
    """
    return {
        "type": "object",
        "properties": {"dialog": {"type": "array", "minItems": 2, "maxItems": MAX_DESCRIBED_TURNS, "items": {
            "type": "object",
            "properties": {"speaker": {"type": "string", "enum": [USER, SYSTEM]},
                           "text": {"type": "string", "maxLength": MAX_TURN_CHARS},
                           "action": {"type": "string", "maxLength": 60}},
            "required": ["speaker", "text"],
        }}},
        "required": ["dialog"],
    }


def query_tool(task: str, seed: int = 0, availability: float = 1.0) -> QueryTool:
    """The tool of a STAR task's query nodes (its API over rows generated from its db specs)."""
    api = STAR.get_api(task)
    return QueryTool(api, STAR.get_db_schema(api.get("db")), seed=seed, availability=availability)


def star_policy(scenario: dict[str, Any], enforce: bool = True, seed: int = 0) -> Policy:
    """The System's policy for a scenario: one reconstructed graph and one tool per task.

    Bookings always succeed in a happy scenario and half the time otherwise.
    """
    tasks = [c["Task"] for c in scenario.get("WizardCapabilities", [])]
    if not tasks:
        raise ConfigError("The scenario lists no WizardCapabilities; pass a scenario from STAR.")
    availability = 1.0 if scenario.get("Happy", True) else 0.5
    return Policy(agent=SYSTEM, graphs={t: STAR.get_task_graph(t) for t in tasks},
                  tools={t: query_tool(t, seed, availability) for t in tasks}, enforce=enforce)


def roleplay_generator(scenario: dict[str, Any], model: str = "embedded", enforce: bool = True,
                       max_turns: int = 16, **options: Any) -> PersonaDialogGenerator:
    """User and System agents for a STAR scenario, the System on its task graphs."""
    options = {"max_tokens": 160, "max_sentences": 3, "repeat_penalty": 1.15, **options}
    return PersonaDialogGenerator(
        model, scenario=scenario, first_speaker=SYSTEM, max_turns=max_turns,
        agents=[AgentSpec(name=USER, persona=STAR.get_user_persona_for_scenario(scenario)),
                AgentSpec(name=SYSTEM, persona=STAR.get_system_persona_for_scenario(scenario))],
        policy=star_policy(scenario, enforce), **options)


def description_generator(scenario: dict[str, Any], model: str = "embedded", **options: Any) -> DialogGenerator:
    """One model writing a whole STAR dialogue from the scenario's description."""
    options = {"max_tokens": 1536, "num_ctx": 8192, **options}  # a multi-task description is ~3k tokens
    return DialogGenerator(model, dialogue_details=STAR.get_scenario_description(scenario),
                           output_format=description_output_format(scenario), scenario=scenario, **options)


async def agenerate_star(dialog_id: int | str, mode: Mode = "roleplay", model: str = "embedded",
                         enforce: bool = True, seed: int | None = None, **options: Any) -> Dialog:
    """One synthetic dialogue for the scenario of real dialogue ``dialog_id`` (seed: the id)."""
    scenario = STAR.get_dialog_scenario(dialog_id)
    seed = int(dialog_id) if seed is None else seed
    if mode == "roleplay":
        dialog = await roleplay_generator(scenario, model, enforce, **options).agenerate(seed=seed, id=dialog_id)
    elif mode == "description":
        dialog = await description_generator(scenario, model, **options).agenerate(seed=seed, id=dialog_id)
    else:
        raise ConfigError(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}.")
    dialog.metadata["mode"] = mode if mode == "description" else ("roleplay" if enforce else "roleplay_prompt_only")
    return dialog


def pending_ids(ids: Iterable[int | str], out: str | Path) -> list[int | str]:
    """The ids whose ``json/<id>.json`` is not in ``out`` yet."""
    return [i for i in ids if not (Path(out) / "json" / f"{i}.json").is_file()]


async def agenerate_star_batch(ids: Iterable[int | str], out: str | Path, mode: Mode = "roleplay",
                               model: str = "embedded", enforce: bool = True, progress: bool = True,
                               **options: Any) -> list[Path]:
    """Generate one dialogue per id into ``out/json/<id>.json`` and ``out/txt/<id>.txt``, skipping done ids.

    The TXT file is written first and the JSON last (both atomically), so an id counts as done only
    when everything is in place.
    """
    ids = list(ids)
    todo = pending_ids(ids, out)
    written = []
    bar = tqdm(todo, desc=f"STAR {mode}", unit="dialog", disable=not progress, initial=len(ids) - len(todo),
               total=len(ids))
    for dialog_id in bar:
        dialog = await agenerate_star(dialog_id, mode, model, enforce, **options)
        dialog.to_file(Path(out) / "txt" / f"{dialog_id}.txt")
        written.append(dialog.to_file(Path(out) / "json" / f"{dialog_id}.json"))
    return written
