"""`DialogGenerator`: one model writes a whole dialogue at once as structured output (see `roleplay.generators`)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from roleplay import defaults
from roleplay._aio import run_sync
from roleplay._generator_parts import ModelSpec, _check_personas, _model_label, _prefix_fields, new_seed
from roleplay._speakers import scenario_speakers
from roleplay.backends import DEFAULT_MODEL, Model, get_backend
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import ConfigError
from roleplay.personas import BasePersona
from roleplay.prompts import render
from roleplay.prompts.persona import render_examples
from roleplay.sentences import is_complete, trim_to_complete
from roleplay.structured import CUT_AT_LIMIT, OutputFormat, chars_for, complete_structured_answer, tokens_for
from roleplay.text._cleaning import split_thought
from roleplay.text._trim import TRIM_KEY, Trim
from roleplay.usage import AGENT, metered

__all__ = ["DIALOG_TOKENS", "MIN_TURNS", "TURN_TOKENS", "DialogGenerator", "GeneratedDialog", "GeneratedTurn",
           "dialog_schema", "turn_bounds", "turns_from_output"]


class GeneratedTurn(BaseModel):
    """One turn as the single-model generator writes it."""

    speaker: str
    text: str


class GeneratedDialog(BaseModel):
    """The default output format of `DialogGenerator`."""

    dialog: list[GeneratedTurn]


_TURN_LIST_KEYS = ("dialog", "dialogue", "turns", "conversation", "messages")
_SPEAKER_KEYS = ("speaker", "role", "from", "name")
_TEXT_KEYS = ("text", "content", "value", "utterance")


def turns_from_output(output: Any) -> list[Turn] | None:
    """Find the turns in a structured output (a list of {speaker, text}-like objects), if there are any."""
    data = output.model_dump() if isinstance(output, BaseModel) else output
    if not isinstance(data, dict):
        return None
    items = next((data[k] for k in _TURN_LIST_KEYS if isinstance(data.get(k), list)), None)
    if items is None or not all(isinstance(i, dict) for i in items):
        return None
    turns = []
    for item in items:
        speaker = next((item[k] for k in _SPEAKER_KEYS if k in item), None)
        text = next((item[k] for k in _TEXT_KEYS if k in item), None)
        if text is None:
            return None
        action = item.get("action")
        turns.append(Turn(speaker=None if speaker is None else str(speaker), text=str(text),
                          action=str(action) if action else None))
    return turns


MIN_TURNS = 4
MAX_TURN_CHARS = 300
"""Longest turn of a generated dialogue (one to three sentences), unless the budget allows less."""
MIN_TURN_CHARS = 40
"""Shortest turn bound worth asking for: a budget that leaves less cannot hold the turns asked for."""
TURN_TOKENS = 12
"""Tokens the JSON around one generated turn spends: braces, keys, quotes, the speaker's name."""
DIALOG_TOKENS = 8
"""Tokens the JSON around the whole turn list spends."""

def turn_bounds(max_tokens: int | None, min_turns: int, longest: int = MAX_TURN_CHARS,
                extra_chars: int = 0) -> tuple[int | None, int]:
    """The most turns, and the longest turn (characters), that fit ``max_tokens`` with ``min_turns`` turns.

    Each turn's text is bounded so that ``min_turns`` turns fit, at most ``longest``; the turn count
    then so that as many such turns fit. ``extra_chars``: what other strings of a turn may hold (an
    action label). Estimates use `roleplay.structured.CHARS_PER_TOKEN`; an answer cut anyway is salvaged.

    Raises:
        ConfigError: ``max_tokens`` cannot hold ``min_turns`` turns of `MIN_TURN_CHARS`.
    """
    if max_tokens is None:
        return None, longest
    room = max_tokens - DIALOG_TOKENS
    chars = min(longest, chars_for(room // min_turns - TURN_TOKENS - tokens_for(extra_chars)))
    if chars < MIN_TURN_CHARS:
        raise ConfigError(f"max_tokens={max_tokens} cannot hold {min_turns} turns of {MIN_TURN_CHARS} characters "
                          f"or more: the dialogue would be {CUT_AT_LIMIT} (min_turns).")
    return max(min_turns, room // (TURN_TOKENS + tokens_for(chars + extra_chars))), chars


def _bound_turns(turns: dict[str, Any], max_tokens: int | None, min_turns: int) -> None:
    """Bound a turn list's schema in place: ``minItems``, and ``maxItems``/text ``maxLength`` from the budget."""
    turns["minItems"] = max(turns.get("minItems", 0), min_turns)
    props = turns.get("items", {}).get("properties", {})
    text = next((props[k] for k in _TEXT_KEYS if isinstance(props.get(k), dict)), None)
    others = [p for k, p in props.items() if isinstance(p, dict) and p is not text and k not in _SPEAKER_KEYS]
    extra = sum(int(p.get("maxLength", 0)) for p in others)
    longest = int(text.get("maxLength", MAX_TURN_CHARS)) if text is not None else MAX_TURN_CHARS
    most, chars = turn_bounds(max_tokens, turns["minItems"], longest, extra)
    if most is not None:
        turns["maxItems"] = min(int(turns.get("maxItems", most)), most)
    if text is not None and text.get("type") == "string":
        text["maxLength"] = chars  # without it one endless turn spends the whole budget (cut, then failed)


def dialog_schema(output_format: OutputFormat, speakers: Sequence[str] = (), min_turns: int = MIN_TURNS,
                  max_tokens: int | None = None) -> OutputFormat:
    """``output_format`` held to the known speakers (an enum), ``min_turns`` turns, and the token budget.

    The default `GeneratedDialog` becomes such a JSON schema; a JSON-schema dict with a turn list is
    tightened the same way; any other pydantic class is returned as it is. With ``max_tokens`` the turn
    count and turn length are bounded so that a valid answer fits it (`turn_bounds`).
    """
    if output_format is GeneratedDialog:
        output_format = {"type": "object", "required": ["dialog"], "properties": {"dialog": {
            "type": "array", "items": {"type": "object", "required": ["speaker", "text"],
                                       "properties": {"speaker": {"type": "string"}, "text": {"type": "string"}}}}}}
    if not isinstance(output_format, dict):
        return output_format
    schema = copy.deepcopy(output_format)
    turns = next((schema["properties"][k] for k in _TURN_LIST_KEYS
                  if schema.get("properties", {}).get(k, {}).get("type") == "array"), None)
    if turns is not None:
        _bound_turns(turns, max_tokens, min_turns)
        item_speaker = turns.get("items", {}).get("properties", {}).get("speaker")
        if speakers and isinstance(item_speaker, dict):
            item_speaker["enum"] = list(speakers)
    return schema


def _trimmed_turns(turns: Sequence[Turn], schema: OutputFormat) -> None:
    """Trim turns that stop mid-sentence to their complete sentences, each with a `Trim` record."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    lists = [props[k] for k in _TURN_LIST_KEYS if isinstance(props.get(k), dict)]
    item = lists[0].get("items", {}).get("properties", {}) if lists else {}
    bound = next((item[k].get("maxLength") for k in _TEXT_KEYS if isinstance(item.get(k), dict)), None)
    for turn in turns:
        kept = trim_to_complete(turn.text)
        if kept != turn.text and is_complete(kept):
            reason = "char_limit" if bound is not None and len(turn.text) >= bound else "unfinished"
            turn.metadata[TRIM_KEY] = Trim(reason=reason, said=turn.text).model_dump()
            turn.text = kept


class DialogGenerator:
    """One LLM writes the whole dialogue as schema-constrained JSON.

    The speakers are ``speakers=``, the ``personas``' names, or those a dataset names for its scenario
    (`roleplay._speakers`: ``User`` and ``System`` for a STAR scenario); the output schema allows
    only them, at least ``min_turns`` turns, and as many turns of such a length as ``max_tokens`` holds
    (`turn_bounds`), so constrained decoding can neither stop after one turn, invent a speaker, nor write
    past the token limit. An answer cut at the limit anyway keeps its complete turns (``metadata["salvaged"]``);
    a turn that stops mid-sentence is trimmed to whole sentences with a `Trim` record.
    ``example_dialogs`` are shown in the prompt as style examples.
    """

    def __init__(
        self,
        model: ModelSpec = DEFAULT_MODEL,
        dialogue_details: str = "",
        output_format: OutputFormat = GeneratedDialog,
        scenario: dict[str, Any] | str | None = None,
        temperature: float | None = defaults.TEMPERATURE,
        max_tokens: int = defaults.DIALOG_MAX_TOKENS,
        attempts: int = 3,
        *,
        speakers: Sequence[str] | None = None,
        personas: Sequence[BasePersona] = (),
        min_turns: int = MIN_TURNS,
        example_dialogs: Sequence[Dialog] = (),
        **backend_options: Any,
    ):
        if isinstance(min_turns, bool) or not isinstance(min_turns, int) or min_turns < 1:
            raise ConfigError(f"min_turns must be an int of at least 1, got {min_turns!r}.")
        if speakers is not None and (isinstance(speakers, str) or not speakers or
                                     not all(isinstance(s, str) and s.strip() for s in speakers)):
            raise ConfigError(f"speakers must be a non-empty list of names, e.g. ['Doctor', 'Patient'], got "
                              f"{speakers!r} (leave it out to take the personas' names).")
        _check_personas(personas)
        self.model = model
        self.personas = list(personas)
        self.speakers = list(speakers) if speakers is not None else [p.display_name or "" for p in self.personas]
        if not all(self.speakers):
            raise ConfigError("Every persona given to DialogGenerator needs a name or role (or pass speakers=[...]).")
        self.min_turns = min_turns
        self.given_format = output_format
        self.example_dialogs = list(example_dialogs)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.attempts = attempts
        self.backend_options = backend_options
        self.set(dialogue_details, scenario)

    def set(self, dialogue_details: str, scenario: dict[str, Any] | str | None = None) -> None:
        """Change what the next dialogues are about (the speakers of a known kind of scenario too)."""
        self.dialogue_details = dialogue_details
        self.scenario = scenario
        self.output_format = dialog_schema(self.given_format, self.speakers_now(), self.min_turns, self.max_tokens)

    def speakers_now(self) -> list[str]:
        """The speakers: ``speakers=`` or the personas' names, else those registered for the scenario."""
        return self.speakers or scenario_speakers(self.scenario)

    def system_prompt(self) -> str:
        """The system prompt: the task, the speakers, the turn count, style examples."""
        who = "\n".join(f"{p.display_name}:\n{p.description()}" for p in self.personas)
        return render("dialog_generator", speakers=", ".join(self.speakers_now()) or "the people in the details",
                      min_turns=self.min_turns, personas=f"The speakers:\n{who}\n" if who else "",
                      examples=render_examples(self.example_dialogs))

    def prompt(self) -> str:
        """The user prompt sent to the model."""
        return f"Dialogue details: {self.dialogue_details.strip()}" if self.dialogue_details else "Write a dialogue."

    async def agenerate(self, seed: int | None = None, id: int | str | None = None,
                        prefix: Dialog | None = None) -> Dialog | Any:
        """Generate one dialogue. Returns a `Dialog` when the output holds turns, else the parsed output.

        With ``prefix`` (`Dialog.fork`), the model is shown the prefix's turns and writes what follows;
        the dialogue is the prefix's turns (copied, unchanged) and then the new ones.
        """
        seed = new_seed() if seed is None else seed
        if prefix is not None and not isinstance(prefix, Dialog):
            raise ConfigError(f"prefix must be a Dialog (from dialog.fork(n)), got {type(prefix).__name__}.")
        model = get_backend(self.model, seed=seed, temperature=self.temperature, max_tokens=self.max_tokens,
                            **self.backend_options)
        prompt = self.prompt()
        if prefix is not None and prefix.turns:
            prompt += "\n\n" + render("dialog_continue", transcript="\n".join(map(str, prefix.turns)))
        try:
            with metered(AGENT) as meter:  # every attempt's tokens, as one writer's line of the usage
                answer = await complete_structured_answer(
                    model, self.system_prompt(), prompt, self.output_format, attempts=self.attempts
                )
        finally:
            if not isinstance(self.model, Model):
                await model.close()
        turns = turns_from_output(answer.output)
        if turns is None:
            return answer.output
        for turn in turns:
            turn.text, thought = split_thought(turn.text)
            if thought:
                turn.metadata["thought"] = thought
        _trimmed_turns(turns, self.output_format)
        salvaged = {"salvaged": {"reason": "token_limit", "turns": len(turns)}} if answer.salvaged else {}
        lineage = _prefix_fields(prefix) if prefix is not None else {}
        return Dialog(
            id=id, model=_model_label(self.model), seed=seed, scenario=self.scenario,
            turns=[*lineage.pop("turns", []), *turns], complete=True, stop_reason=StopReason.GENERATED,
            **{**lineage, "metadata": {**lineage.get("metadata", {}), "completion_tokens": answer.tokens, **salvaged,
                                       "usage": [line.model_dump() for line in meter.lines()]}},
        )

    def generate(self, seed: int | None = None, id: int | str | None = None,
                 prefix: Dialog | None = None) -> Dialog | Any:
        """Sync `agenerate` (works inside Jupyter too)."""
        return run_sync(self.agenerate(seed=seed, id=id, prefix=prefix))

