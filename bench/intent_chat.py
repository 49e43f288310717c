"""IntentChatGenerator on one model: dialogues/min, share passing the quality filters, distinct-1/2.

    python bench/intent_chat.py [--model embedded] [--per-intent 1] [--turns 6]

Runs the shipped taxonomy (scenarios/intents.yaml) into a temp folder at concurrency 1 (the embedded
model serializes its calls anyway).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from roleplay.intent_chat import IntentChatGenerator

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--per-intent", type=int, default=1)
    parser.add_argument("--turns", type=int, default=6)
    args = parser.parse_args()
    generator = IntentChatGenerator(args.model, args.per_intent, args.turns, taxonomy=ROOT / "scenarios" /
                                    "intents.yaml", concurrency=1)
    with tempfile.TemporaryDirectory() as work:
        report = generator.run(Path(work) / "chat.jsonl")
    total = generator.total
    print(f"{total} conversations of {args.turns} messages on {args.model}: {report['seconds']:.0f} s, "
          f"{total / report['seconds'] * 60:.2f} dialogues/min")
    print(f"passed the filters: {report['conversations']}/{total} ({report['conversations'] / total:.0%}); "
          f"regenerations by reason: {report['regenerations_by_reason'] or 'none'}; failed: {report['failed']}")
    print(f"distinct-1 {report['distinct_1']}, distinct-2 {report['distinct_2']}")


if __name__ == "__main__":
    main()
