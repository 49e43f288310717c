"""Reading a user's yes/no answer from its words, for the answer branches of a policy graph."""

from __future__ import annotations

import re

__all__ = ["answer_of"]

_YES = re.compile(r"\b(yes|yeah|yep|sure|ok|okay|please do|go ahead|correct|right|that works|sounds good)\b", re.I)
_NO = re.compile(r"\b(no|nope|not|don't|do not|cancel|never mind|wrong)\b", re.I)
_DONE = re.compile(r"\b(i know|got it|i'm there|that's all|done)\b", re.I)


def answer_of(text: str) -> str | None:
    """A user's answer to a yes/no question, read lexically: ``yes``, ``no``, ``done`` or None (unclear).

    Only the first four words count: an answer leads with it ("No, not that one"), while a "not" deep
    in a rambling turn is no answer at all (then both branches stay legal).
    """
    first = " ".join(re.split(r"[.!?]", text.strip())[0].split()[:4])
    if _DONE.search(first):
        return "done"
    no, yes = _NO.search(first), _YES.search(first)
    if no and (not yes or no.start() < yes.start()):
        return "no"
    return "yes" if yes else None
