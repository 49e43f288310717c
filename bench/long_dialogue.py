"""Memory over a 60-turn dialogue: window vs summary vs summary+facts, scripted and with the embedded model.

A customer states a fact on turn 2 ("My booking reference is ZX-4471.") and, on turn 50, states it again
from whatever its prompt still holds: the exact reference if it is there, else "I do not remember it."
(The customer is scripted, so this checks what the memory kept, not how well a model reads.) The exact-match
check on turn 50 is the planted-fact check. For every arm it prints the largest prompt (tokens the backend
reported, one call per turn: guards are off) against the context size, overflow errors, summaries written
and their tokens, and the check.

- scripted arms: the clerk is scripted too, a word is a token, summaries are scripted and leave the fact
  out (the worst case for a summary);
- embedded arms (--embedded): the clerk is SmolLM2-135M in process with a 512-token context, and the
  summaries (both agents') are written by the embedded model.

    nice -n 10 python bench/long_dialogue.py --embedded
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from roleplay.backends._base import Model
from roleplay.backends.options import BackendOptions
from roleplay.backends.scripted import ScriptedClient, ScriptedRequest
from roleplay.dialog import Dialog, StopReason
from roleplay.generators import AgentSpec, PersonaDialogGenerator
from roleplay.guards import Guards
from roleplay.memory import MemoryPolicy
from roleplay.personas import Persona
from roleplay.usage import MEMORY, dialog_usage, totals

FACT = "ZX-4471"
TURNS, PLANTED, ASKED = 60, 1, 49  # turn indices: turn 2 and turn 50
CONTEXT = 512
MAX_TOKENS = 48
FILLERS = ["Yes, that is right, and I would like a window seat on that flight if one is still free.",
           "Could you also check whether the hotel near the station has a room for two nights?",
           "I would prefer to pay by card, and please send the confirmation to my email address.",
           "That sounds fine to me; is breakfast included in the price you mentioned a moment ago?"]


def customer_script(request: ScriptedRequest, turn: list[int]) -> str:
    if request.system.startswith("You keep notes"):
        return "They talked about a trip, seats, a hotel and how to pay."
    turn[0] += 1
    if turn[0] == 1:
        return f"My booking reference is {FACT}."
    if turn[0] == (ASKED + 1) // 2:
        found = re.search(r"ZX-\d{4}", " ".join(text for _, _, text in request.messages))
        return f"As I said, my booking reference is {found.group(0)}." if found else "I do not remember it."
    return FILLERS[turn[0] % len(FILLERS)]


def scripted(fn: Any, seed: int) -> Model:
    return Model(ScriptedClient(fn=fn, seed=seed), name="scripted", backend="scripted",
                 options=BackendOptions(seed=seed, max_tokens=MAX_TOKENS), context_size=CONTEXT)


def clerk_script(request: ScriptedRequest) -> str:
    if request.system.startswith("You keep notes"):
        return "They talked about a trip, seats, a hotel and how to pay."
    return "Thank you, I have noted that; let me look at the options in our booking system for you now."


def play(arm: str, memory: MemoryPolicy, embedded: bool, seed: int) -> Dialog:
    counter = [0]
    customer = scripted(lambda request: customer_script(request, counter), seed)
    clerk: str | Model = "embedded" if embedded else scripted(clerk_script, seed)
    policies = {"Clerk": memory,
                "Customer": memory.model_copy(update={"summary_model": "embedded"}) if embedded and
                memory.kind == "summary" else memory}
    generator = PersonaDialogGenerator(
        "embedded", agents=[AgentSpec(name="Clerk", persona=Persona(name="Clerk", role="travel agent"), model=clerk),
                            AgentSpec(name="Customer", persona=Persona(name="Customer", role="traveller"),
                                      model=customer)],
        dialogue_details="A customer books a trip with a travel agent.", max_turns=TURNS, max_tokens=MAX_TOKENS,
        memory=policies, guards=Guards(enabled=False), num_ctx=CONTEXT, repeat_penalty=1.15)
    return generator.generate(seed=seed, id=arm)


def measure(dialog: Dialog) -> dict[str, Any]:
    prompts = [int(t.metadata.get("prompt_tokens") or 0) for t in dialog.turns]
    summaries = [e for e in dialog.events if e.type == MEMORY]
    spent = totals(dialog_usage(dialog))
    return {
        "turns": len(dialog.turns),
        "max_prompt": max(prompts, default=0),
        "within_context": all(p <= CONTEXT for p in prompts),
        "overflow_errors": int(dialog.stop_reason == StopReason.BACKEND_ERROR),
        "summaries": len(summaries),
        "summary_tokens": spent.get(MEMORY).tokens if MEMORY in spent else 0,
        "fact_at_50": len(dialog.turns) > ASKED and FACT in dialog.turns[ASKED].text,
        "fact_in_summary": any(FACT in str(e.data.get("text", "")) for e in summaries),
        "said_at_50": dialog.turns[ASKED].text if len(dialog.turns) > ASKED else "(no turn 50)",
    }


ARMS = {"window": MemoryPolicy(), "summary": MemoryPolicy(kind="summary"),
        "summary+facts": MemoryPolicy(kind="summary", facts=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedded", action="store_true", help="Also run the embedded arms (minutes).")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="Save each arm's dialogue here (JSON).")
    args = parser.parse_args()
    runs = [("scripted", arm, False) for arm in ARMS]
    if args.embedded:
        runs += [("embedded", arm, True) for arm in ("window", "summary+facts")]
    print(f"{TURNS} turns, context {CONTEXT} tokens, {MAX_TOKENS} per reply; fact planted on turn 2, checked on 50")
    print(f"{'clerk':9} {'memory':14} {'turns':>5} {'max prompt':>10} {'<=ctx':>5} {'overflow':>8} "
          f"{'summaries':>9} {'sum tok':>7} {'in sum':>6} {'fact@50':>7} {'sec':>6}  said on turn 50")
    for clerk, arm, embedded in runs:
        started = time.perf_counter()
        dialog = play(f"{clerk}-{arm}", ARMS[arm], embedded, args.seed)
        if args.out is not None:
            dialog.to_file(args.out / f"{clerk}-{arm}.json")
        row = measure(dialog)
        print(f"{clerk:9} {arm:14} {row['turns']:>5} {row['max_prompt']:>10} {str(row['within_context']):>5} "
              f"{row['overflow_errors']:>8} {row['summaries']:>9} {row['summary_tokens']:>7} "
              f"{'yes' if row['fact_in_summary'] else 'no':>6} "
              f"{'pass' if row['fact_at_50'] else 'fail':>7} {time.perf_counter() - started:>6.1f}  "
              f"{row['said_at_50'][:60]!r}")


if __name__ == "__main__":
    main()
