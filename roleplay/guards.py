"""Degeneration guards: a turn that copies an earlier one, speaks as someone else, or is cut off is redone.

Small models loop ("I'm so glad ..." eight times), slip into the other role (the patient introducing
itself as "Dr. ..."), and stop mid-sentence at the token limit. The guards act in three places:

1. while decoding: the backend may not repeat a run of ``Guards.no_repeat_ngram`` tokens of the
   conversation, nor open a turn with the token that opened one of the last few messages
   (`roleplay.backends._no_repeat`; llama.cpp only, other backends ignore it), which stops most copies
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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from roleplay import defaults
from roleplay.sentences import is_complete, sentences, trim_to_complete
from roleplay.text._guard_config import HOTTEST, Guards
from roleplay.text._repetition import FORMULA_WORDS, copy_score, new_pair_share, prompt_lines, same_opening
from roleplay.text._roles import identity_terms, role_confusion
from roleplay.text._trim import TRIM_KEY, Trim, trim_of

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from roleplay.agents import Agent, Reply

__all__ = ["FORMULA_WORDS", "HOTTEST", "TRIM_KEY", "Guards", "Trim", "copy_score", "derive_seed", "guarded_reply",
           "identity_terms", "new_pair_share", "prompt_lines", "role_confusion", "same_opening", "trim_of"]


def derive_seed(base: int | None, turn_index: int, attempt: int) -> int:
    """A seed for resample ``attempt`` of turn ``turn_index``, fixed by the dialogue's ``base`` seed."""
    digest = hashlib.blake2b(f"{base or 0}:{turn_index}:{attempt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


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
