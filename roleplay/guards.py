"""Degeneration guards: a turn that copies an earlier one, speaks as someone else, or is cut off is redone.

Small models loop ("I'm so glad ..." eight times), slip into the other role (the patient introducing
itself as "Dr. ..."), and stop mid-sentence at the token limit. The guards act in three places:

1. while decoding: the backend may not repeat a run of ``Guards.no_repeat_ngram`` tokens of the
   conversation, nor open a turn with the token that opened one of the last few messages
   (`roleplay.backends.no_repeat`; llama.cpp only, other backends ignore it), which stops most copies
   and same-sounding turns before they are written;
2. after decoding, each check here is a pure function of the text, so `roleplay.evaluation.text`
   measures exactly what the guards prevent:

   - `copy_score`: the highest rapidfuzz ratio (0-100) against any earlier turn or sentence, either
     speaker, and `new_pair_share`: how many of the turn's word pairs are new to the dialogue
     (`Guards.is_copy`: from ``near_copy`` on, or under ``min_new_pairs`` new pairs; a short turn only
     when said again word for word);
   - `role_confusion`: the turn opens with another speaker's label, claims another's name or role
     ("I'm Dr. Garcia", "I'm a 45-year-old family doctor", "those who rely on me as their doctor", "in my
     years as a doctor", "we doctors" from the patient), addresses the speaker by its own name ("Hello,
     Dr. Garcia", "You are Doctor" from Dr. Garcia), narrates a party in the third person like a stage
     direction ("The patient's face is pale." "The doctor asks how long."), or drops every role to hand
     over a text as a chat assistant does ("Here's a sample of your responses.");
   - `roleplay.sentences.is_complete`: the turn ends like a finished sentence;
   - `same_opening`: the turn opens with the same two words as the speaker's last turns (a paraphrase
     loop: "The pain today." "The pain, yes." "The pain after your injury.");
   - a prompt leak: a sentence of the turn near-copies the agent's own system prompt (its rules, its
     persona text) or this turn's director note, as `copy_score` against them; or the turn copies a line
     of the prompt, its label dropped (an example turn said as its own: "Good morning, please have a
     seat. What brings you in today?"), judged as a copy of an earlier turn is (`Guards.is_copy`);
3. a failed turn is redone: a cut-off turn is first trimmed to its last complete sentence (a `Trim` in
   ``metadata["trim"]``, which evaluations count and transcripts flag); a turn that
   still fails is resampled: the agent's memory is rolled back and it answers again with a seed derived
   from its model's seed, the turn index and the attempt (`derive_seed`), a little hotter each time
   (``resample_heat``), so the same dialogue seed gives the same dialogue. After ``resamples`` failed
   attempts, the good sentences of the best attempt are kept when they make a good turn on their own
   (a looping model often says one new thing beside the copied one); else the least bad attempt is
   kept and marked.

`guarded_reply` is what the orchestrator calls instead of ``agent.reply``. Every decision lands in the
turn's ``metadata["guard"]``. Configure with `Guards` (scenario YAML ``guards:``, generator
``guards=``); ``Guards(enabled=False)`` turns them all off.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process, utils

from roleplay import defaults
from roleplay.sentences import is_complete, ngrams, sentences, trim_to_complete, words

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from roleplay.agents import Agent, Reply

__all__ = ["FORMULA_WORDS", "HOTTEST", "TRIM_KEY", "Guards", "Trim", "copy_score", "derive_seed", "guarded_reply",
           "identity_terms", "new_pair_share", "prompt_lines", "role_confusion", "same_opening", "trim_of"]

_TITLE = re.compile(r"^(dr|mr|mrs|ms|prof)\.?\s", re.IGNORECASE)
_ASSISTANT = re.compile(r"^\s*here(?:'s|’s| is)\s+(?:a|an|another|the|your|some)\s+(?:[\w-]+\s+){0,2}?"
                        r"(?:samples?|examples?|versions?|revisions?|responses?|one for you|conversation|dialogue)\b",
                        re.IGNORECASE)
"""A chat model's own voice, out of any role: "Here's a sample of your responses.", "Here's a revised version of
the conversation:", "Here's another one for you to complete" (the embedded model, doctor_patient seeds 1, 12, 4242)."""
_LINE_LABEL = re.compile(r"^[^:\n]{1,40}:\s+")
"""A prompt line's label: "Doctor: " before an example turn, "Your name: " before a persona field."""
_GREETING = r"(?:hello|hi|hey|dear|welcome|thanks|thank you|bye|goodbye|morning|afternoon|evening|meet you)"
HOTTEST = 1.3
"""The hottest a resample runs: hotter, a small model stops making sense."""
FORMULA_WORDS = 3
"""Greetings and thanks this short ("Good morning.", "Thank you, doctor.") may be said back word for word."""
_CLAIM = (r"(?:i am|i'm|im|my name is|this is|call me|speaking as|i was|i've been|i have been|i work as|i worked as"
          r"|i'm working as)")
_AS_ROLE_I = r"(?:,?\s+(?:i|i'm|i've|i'd|i'll|my|me|we)\b)"
"""After "as a <role>": the speaker goes on about itself ("As your doctor, I advise"; not "she works as a doctor")."""
_SELF_AS = r"(?:\bme|\bmyself|\bi)\s*,?\s+as\s+(?:the|a|an|your|their|his|her|our)"
"""Me/I/myself *as* someone's role: "rely on me as their doctor", "I, as your doctor" ("you as my doctor" is fine)."""
_MY_TIME_AS = (r"\bmy\s+(?:\w+\s+)?(?:years?|job|work|role|duty|duties|experience|career|time|life|practice|training"
               r"|position)\s+as\s+(?:the|a|an|your|their)")
"""One's own past or work *as* a role: "my twenty years as a doctor", "my job as your doctor"."""
_NOT_POSSESSIVE = r"(?![\w-]|['’]s\b)"
"""A role word ends here and is not a possessive: "I'm the doctor's patient" claims nothing."""


class Guards(BaseModel):
    """Which degeneration guards run and how hard they try (on by default)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Run the guards at all.")
    near_copy: float = Field(default=85.0, ge=0, le=100, description="rapidfuzz ratio (0-100) from which a turn "
                             "counts as a copy of an earlier turn.")
    role_confusion: bool = Field(default=True, description="Redo turns spoken as another party.")
    cut_off: bool = Field(default=True, description="Trim or redo empty and unfinished turns.")
    min_words: int = Field(default=7, ge=1, description="Shorter turns are copies only when said again word for "
                           "word; turns and sentences this long also when similar or saying too little that is new.")
    min_new_pairs: float = Field(default=0.5, ge=0, le=1, description="Share of a turn's word pairs that must be "
                                 "new to the dialogue (0 turns this check off).")
    resamples: int = Field(default=3, ge=0, description="Most extra attempts per turn.")
    resample_heat: float = Field(default=0.3, ge=0, description="Added to the temperature on each resample (at "
                                 f"most {HOTTEST}): at the same temperature a looping model loops again.")
    same_opening: int = Field(default=2, ge=0, description="A turn opening with the same two words as each of the "
                              "speaker's last this many turns is a loop ('The pain ...' every turn); 0 turns it off.")
    no_repeat_ngram: int | None = Field(default=3, ge=2, description="While decoding, never repeat a run of this "
                                        "many tokens of the conversation, nor open a turn as one of the last "
                                        "messages opened (llama.cpp; other backends ignore it); None turns both "
                                        "off.")

    def is_copy(self, text: str, similarity: float, new_pairs: float | None = None) -> bool:
        """Whether a turn with this `copy_score` and `new_pair_share` counts as a near-copy.

        A turn of at least ``min_words`` words is a copy from ``near_copy`` on, or when it says too little
        that is new. A shorter one only when it is said again word for word ("I'm so glad you're here."
        four times), unless it is a formula of at most `FORMULA_WORDS` words ("Good morning." said back).
        """
        length = len(words(text))
        if length < self.min_words:
            return length > FORMULA_WORDS and similarity >= 100
        return similarity >= self.near_copy or (new_pairs is not None and new_pairs < self.min_new_pairs)


TRIM_KEY = "trim"
"""The key of a turn's metadata that holds its `Trim` record."""


class Trim(BaseModel):
    """A turn shortened to its last complete sentence, recorded in ``turn.metadata["trim"]``.

    Made where words are cut: `roleplay.agents.Agent.reply` (an unfinished last sentence dropped) and the
    cut-off guard (`guarded_reply`). ``roleplay evaluate`` and ``roleplay report`` count these turns, and
    transcripts flag them, so a turn that was cut never passes for one said whole.
    """

    model_config = ConfigDict(extra="forbid")

    reason: Literal["token_limit", "char_limit", "unfinished"] = Field(
        description="token_limit: the reply used its whole max_tokens; char_limit: the text reached its schema's "
                    "maxLength; unfinished: it stopped mid-sentence anyway.")
    said: str = Field(description="The words before trimming.")

    @classmethod
    def of(cls, said: str, completion_tokens: int, max_tokens: int | None) -> Trim:
        """The record of trimming ``said``, from a reply of ``completion_tokens`` under a ``max_tokens`` limit."""
        hit = max_tokens is not None and completion_tokens >= max_tokens
        return cls(reason="token_limit" if hit else "unfinished", said=said)


def trim_of(metadata: Mapping[str, Any]) -> Trim | None:
    """The `Trim` record in a turn's ``metadata`` (None: the turn was not trimmed)."""
    record = metadata.get(TRIM_KEY)
    return Trim.model_validate(record) if isinstance(record, Mapping) else None


def derive_seed(base: int | None, turn_index: int, attempt: int) -> int:
    """A seed for resample ``attempt`` of turn ``turn_index``, fixed by the dialogue's ``base`` seed."""
    digest = hashlib.blake2b(f"{base or 0}:{turn_index}:{attempt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


@lru_cache(maxsize=8192)
def _comparable(text: str, min_words: int) -> tuple[str, tuple[str, ...]]:
    """``text`` and its sentences of at least ``min_words`` words, normalised as rapidfuzz compares them.

    Memoized: every earlier turn (and the system prompt) is compared again on each new turn and resample.
    """
    parts = (s for s in sentences(text) if len(words(s)) >= min_words)
    return utils.default_process(text), tuple(utils.default_process(s) for s in parts)


class _Reference(NamedTuple):
    """Earlier turns as `copy_score` compares with them: every whole turn and sentence, and whose it is."""

    choices: tuple[str, ...]
    owners: tuple[int, ...]


@lru_cache(maxsize=1024)
def _reference(earlier: tuple[str, ...], min_words: int) -> _Reference:
    """Memoized: a turn's resamples, and every turn's prompt-leak check, compare with the same texts."""
    units = [_comparable(turn, min_words) for turn in earlier]
    choices = [whole for whole, _ in units] + [part for _, parts in units for part in parts]
    owners = list(range(len(units))) + [index for index, (_, parts) in enumerate(units) for _ in parts]
    return _Reference(tuple(choices), tuple(owners))


@lru_cache(maxsize=8192)
def _pairs(text: str) -> frozenset[tuple[str, ...]]:
    return frozenset(ngrams(text, 2))


@lru_cache(maxsize=1024)
def _seen_pairs(earlier: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    return frozenset().union(*(_pairs(turn) for turn in earlier))


def copy_score(text: str, earlier: Sequence[str], min_words: int = 1) -> tuple[float, int | None]:
    """How much ``text`` repeats ``earlier`` turns: the best rapidfuzz ratio (0-100) and that turn's index.

    Whole turns are compared, and so are sentences of at least ``min_words`` words: a small model
    often repeats one long sentence and changes the rest, which a whole-turn ratio misses.
    """
    if not earlier or not text.strip():
        return 0.0, None
    reference = _reference(tuple(earlier), min_words)
    whole, parts = _comparable(text, min_words)
    best_score, best_index = 0.0, None
    for query in (whole, *parts):
        match = process.extractOne(query, reference.choices, scorer=fuzz.ratio, processor=None)
        if match and match[1] > best_score:
            best_score, best_index = match[1], reference.owners[match[2]]
    return round(best_score, 1), best_index


@lru_cache(maxsize=256)
def prompt_lines(prompt: str) -> tuple[str, ...]:
    """The lines of a system prompt without their labels, each a unit a turn may copy whole.

    An example turn of short sentences ("Good morning, please have a seat. What brings you in today?")
    is under the sentence length `copy_score` compares, and a small share of the whole prompt.
    """
    return tuple(line for line in (_LINE_LABEL.sub("", raw).strip() for raw in prompt.splitlines()) if line)


def new_pair_share(text: str, earlier: Sequence[str]) -> float | None:
    """The share of ``text``'s word pairs that no earlier turn used (None for a text under two words).

    A turn stitched from phrases already said is as degenerate as a copy, though no sentence matches.
    """
    pairs = ngrams(text, 2)
    if not pairs:
        return None
    seen = _seen_pairs(tuple(earlier))
    return round(sum(pair not in seen for pair in pairs) / len(pairs), 3)


def same_opening(text: str, own: Sequence[str], runs: int) -> str | None:
    """The two opening words ``text`` shares with each of the speaker's last ``runs`` turns (None if not).

    A paraphrase loop changes the words after the opening, so no ratio or word-pair rule sees it.
    """
    opening = words(text)[:2]
    if runs <= 0 or len(opening) < 2 or len(own) < runs:
        return None
    return " ".join(opening) if all(words(turn)[:2] == opening for turn in own[-runs:]) else None


def identity_terms(label: str | None, persona: Mapping[str, Any] | None = None) -> list[str]:
    """The words a speaker is known by: its label, its persona's name and role, and the role's last word."""
    persona = persona or {}
    terms = {label or "", str(persona.get("name") or ""), str(persona.get("role") or "")}
    role_words = str(persona.get("role") or "").split()
    if len(role_words) > 1:
        terms.add(role_words[-1])  # "family doctor" is also "doctor"
    title = _TITLE.match(str(persona.get("name") or ""))
    if title:
        terms.add(title.group(1))  # "Dr. Garcia" is also "Dr."
    return sorted((t.strip() for t in terms if t.strip()), key=len, reverse=True)


def _alternation(terms: Iterable[str]) -> str:
    return "|".join(re.escape(t).replace(r"\.", r"\.?") for t in terms)


class _RolePatterns(NamedTuple):
    """`role_confusion`'s regular expressions for one speaker's identity terms and the others'.

    Every claim names another party, and every address the speaker: ``others_keys`` and ``own_keys`` are
    words a text must contain for those patterns to match, so most turns skip them (see `_may_mention`).
    """

    label: re.Pattern[str] | None
    claims: tuple[re.Pattern[str], ...]
    narrated: re.Pattern[str] | None
    addressed: tuple[re.Pattern[str], ...]
    others_keys: tuple[str, ...]
    own_keys: tuple[str, ...]


def _search_keys(terms: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased words each match of a term's pattern contains (its text up to a dot, made optional)."""
    keys = [term.split(".")[0].lower() for term in terms]
    return tuple("" if not key.isascii() else key for key in keys)  # "": unsure, always search


def _may_mention(lowered: str, keys: Sequence[str]) -> bool:
    """Whether an ASCII text (lower-cased) holds one of ``keys``; a non-ASCII one is always searched.

    Exact for ASCII: there a case-insensitive pattern matches where the lower-cased word is a substring.
    """
    return not lowered.isascii() or any(key in lowered for key in keys)


@lru_cache(maxsize=1024)
def _role_patterns(own: tuple[str, ...], others: tuple[str, ...]) -> _RolePatterns:
    """Compiled once per pair of identities: a batch judges every turn of the same speakers again and again."""
    own_lower = {t.lower() for t in own}
    names = _alternation(t for t in others if t.lower() not in own_lower)
    mine = _alternation(own)
    everyone = _alternation([*own, *others])

    def compiled(*patterns: str) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in patterns)
    return _RolePatterns(
        label=compiled(rf"^\s*(\[({names})\]|({names})\s*:)")[0] if names else None,
        claims=compiled(rf"\b{_CLAIM}\s+(?:the |a |an |your )?({names}){_NOT_POSSESSIVE}",
                        # the same with a word or two before the role: "I'm a 45-year-old family doctor"
                        rf"\b{_CLAIM}\s+(?:the|a|an|your)\s+(?:[\w-]+\s+){{1,2}}?({names}){_NOT_POSSESSIVE}",
                        rf"(?:{_SELF_AS}|{_MY_TIME_AS})\s+({names}){_NOT_POSSESSIVE}",
                        rf"\bas\s+(?:a|an|the|your|their)\s+({names}){_AS_ROLE_I}",
                        rf"\b(?:we|us)\s+({names})s\b") if names else (),
        narrated=compiled(rf"(?:^|[.!?]\s+)(the\s+(?:{everyone}))(?:['’]s)?\s+\w"  # "The doctor asks"
                          rf"|^\s*(an?\s+(?:{everyone}))(?:\s+\w+s\b|\s*,)")[0]  # opens "A patient comes/, a"
                 if everyone else None,
        addressed=compiled(rf"(?:[,!]\s*|\b{_GREETING},?\s+)({mine})\s*[,.!?]",
                           rf"\byou(?:'re| are)\s+(?:the |a |an |my )?({mine})(?![\w-])") if own else (),
        others_keys=_search_keys(t for t in others if t.lower() not in own_lower),
        own_keys=_search_keys(own),
    )


def role_confusion(text: str, own: Sequence[str], others: Sequence[str], opening: str | None = None) -> str | None:
    """Why ``text`` is spoken as someone else (None if it is not); ``own``/``others`` from `identity_terms`.

    ``opening`` is the model's text before cleaning (which drops a leading label), checked for
    another speaker's label.
    """
    patterns = _role_patterns(tuple(own), tuple(others))
    label = patterns.label and patterns.label.match(opening or text)
    if label:
        return f"speaks under the label {label.group(0).strip()!r}"
    assistant = _ASSISTANT.match(text)
    if assistant:
        return f"speaks as an assistant handing over a text ({assistant.group(0).strip()!r})"
    lowered = text.lower()
    names_others, names_self = _may_mention(lowered, patterns.others_keys), _may_mention(lowered, patterns.own_keys)
    claim = next((m for p in patterns.claims if (m := p.search(text))), None) if names_others else None
    if claim:
        return f"claims to be {claim.group(1)!r}"
    narrated = patterns.narrated and (names_others or names_self) and patterns.narrated.search(text)
    if narrated:
        return f"narrates {narrated.group(narrated.lastindex or 0)!r} in the third person"
    addressed = next((m for p in patterns.addressed if (m := p.search(text))), None) if names_self else None
    if addressed:
        return f"addresses itself as {addressed.group(1)!r}"
    return None


@dataclass
class _Attempt:
    reply: Reply
    seed: int | None
    problems: list[str] = field(default_factory=list)
    similarity: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"seed": self.seed, "problems": self.problems, "similarity": self.similarity,
                "text": self.reply.text, **self.detail}


@dataclass(frozen=True)
class _Judge:
    """What a turn is checked against: the dialogue so far, the agent's prompt and names, the guards."""

    agent: Agent
    earlier: Sequence[str]
    own: Sequence[str]
    guards: Guards
    note: str | None = None
    may_say: str | None = None
    """An example reply the turn may follow word for word (a policy action's template): no prompt leak."""

    def judge(self, text: str, spoken: str = "") -> tuple[list[str], float, dict[str, Any]]:
        """The problems of ``text`` (empty if it is a good turn), its `copy_score`, and details to record."""
        guards, problems = self.guards, []
        detail: dict[str, Any] = {}
        if guards.cut_off and not is_complete(text):
            problems.append("empty" if not text.strip() else "cut_off")
        similarity, copied = copy_score(text, self.earlier, guards.min_words)
        new_pairs = new_pair_share(text, self.earlier)
        if guards.is_copy(text, similarity, new_pairs):
            problems.append("near_copy")
            detail.update(copy_of=copied, new_pairs=new_pairs)
        opening = same_opening(text, self.own, guards.same_opening)
        if opening:
            problems.append("same_opening")
            detail["opening"] = opening
        leaked, _ = copy_score(text, [self.agent.system_prompt, self.note or ""], guards.min_words)
        recited, _ = copy_score(text, prompt_lines(self.agent.system_prompt), guards.min_words)
        # a small model recites its instructions, or an example turn as its own
        if (leaked >= guards.near_copy or guards.is_copy(text, recited)) and not self._says_example(text):
            problems.append("prompt_leak")
        confusion = role_confusion(text, self.agent.identity, self.agent.other_identities,
                                   opening=spoken or None) if guards.role_confusion else None
        if confusion:
            problems.append("role_confusion")
            detail["confusion"] = confusion
        return problems, similarity, detail

    def _says_example(self, text: str) -> bool:
        """Whether ``text`` is the example reply it may follow (``may_say``), said near word for word."""
        return bool(self.may_say) and copy_score(text, [self.may_say or ""], 1)[0] >= self.guards.near_copy

    def check(self, reply: Reply, seed: int | None) -> _Attempt:
        """Judge ``reply``, first trimming a cut-off turn to its last complete sentence."""
        detail: dict[str, Any] = {}
        if self.guards.cut_off and not is_complete(reply.text):
            trimmed = trim_to_complete(reply.text)
            if trimmed and is_complete(trimmed):
                detail["trimmed"] = reply.text
                if TRIM_KEY not in reply.metadata:  # the agent's own record keeps the words it heard first
                    reply.metadata[TRIM_KEY] = Trim.of(reply.text, reply.completion_tokens,
                                                       self.agent.model.options.max_tokens).model_dump()
                reply.text = trimmed
                self.agent.remember(trimmed)
        problems, similarity, found = self.judge(reply.text, reply.spoken)
        return _Attempt(reply, seed, problems, similarity, {**detail, **found})

    def salvage(self, attempts: Sequence[_Attempt]) -> _Attempt | None:
        """The good sentences of the best failed attempt, when together they make a good turn.

        A small model that is looping often says one new thing beside the copied one; keeping that beats
        keeping a copy. The copied, leaked, confused or unfinished sentences are dropped (and recorded).
        """
        for attempt in sorted(attempts, key=lambda a: (len(a.problems), a.similarity)):
            parts = sentences(attempt.reply.text)
            kept = [s for s in parts if not self.judge(s)[0]]
            text = " ".join(kept)
            if not kept or len(kept) == len(parts) or self.judge(text, attempt.reply.spoken)[0]:
                continue
            reply = replace(attempt.reply, text=text, metadata=dict(attempt.reply.metadata))
            dropped = [s for s in parts if s not in kept]
            return _Attempt(reply, attempt.seed, [], copy_score(text, self.earlier, self.guards.min_words)[0],
                            {"salvaged": {"from": attempt.reply.text, "dropped": dropped}})
        return None


def _resample_temperature(agent: Agent, guards: Guards, attempt: int) -> float | None:
    """Resample ``attempt`` runs hotter than the model's own temperature: the same heat loops the same way."""
    if not guards.resample_heat:
        return None
    base = agent.model.options.temperature
    base = defaults.TEMPERATURE if base is None else base
    return round(min(base + guards.resample_heat * attempt, HOTTEST), 3)


async def guarded_reply(agent: Agent, earlier: Sequence[Any], heard: Sequence[Any], *, may_say: str | None = None,
                        **reply_args: Any) -> Reply:
    """``agent.reply(heard, **reply_args)``, redone with derived seeds while a guard rejects it.

    ``earlier`` is every turn of the dialogue so far. ``may_say``: an example reply the turn may follow
    word for word although its note or prompt holds it (a policy action's template). The kept reply
    carries the guard's record in ``Reply.metadata["guard"]`` whenever a guard acted (trimmed,
    resampled, salvaged or gave up).
    """
    guards = agent.guards
    if not guards.enabled:
        return await agent.reply(heard, **reply_args)
    reply_args["no_repeat_ngram"] = guards.no_repeat_ngram
    reply = await agent.reply(heard, **reply_args)
    own = [t.text for t in earlier if t.speaker == agent.name]
    judge = _Judge(agent, [t.text for t in earlier], own, guards, reply_args.get("instruction"),  # the note can leak
                   may_say)
    attempts = [judge.check(reply, None)]
    while attempts[-1].problems and len(attempts) <= guards.resamples:
        agent.undo_last_reply()
        seed = derive_seed(agent.model.options.seed, len(earlier), len(attempts))
        logger.info("%s turn %d: %s; resampling with seed %d", agent.name, len(earlier), attempts[-1].problems, seed)
        reply = await agent.reply(heard, seed=seed, temperature=_resample_temperature(agent, guards, len(attempts)),
                                  **reply_args)
        attempts.append(judge.check(reply, seed))
    kept = min(attempts, key=lambda a: (len(a.problems), a.similarity))
    if kept.problems:
        kept = judge.salvage(attempts) or kept
    if kept.reply is not attempts[-1].reply:  # an earlier attempt, or the salvaged sentences
        agent.remember(kept.reply.text)
    if len(attempts) > 1 or kept.problems or kept.detail:
        kept.reply.metadata["guard"] = {
            "resamples": len(attempts) - 1, "seed": kept.seed, "unresolved": kept.problems,
            "rejected": [a.record() for a in attempts if a.reply is not kept.reply and a is not kept],
            **{key: kept.detail[key] for key in ("trimmed", "salvaged") if key in kept.detail},
        }
    return kept.reply
