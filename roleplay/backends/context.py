"""Keeping a prompt within the model's context window: the oldest history goes first, then long messages are cut.

An agent remembers a number of messages (`roleplay.defaults.CONTEXT_WINDOW`), not of tokens, so a few long
ones (a tool result with every row, a rambling turn) can still overflow a small model's window, and
llama.cpp then refuses the call. `fit_to_context` drops the oldest messages after the system prompt
until the prompt fits, never the newest one (what the model must answer now), nor a tool result
without the call before it; if the system prompt and the newest message alone are too long, the
longest of them is shortened in its middle. `roleplay.backends._base.Model` applies it to every call of
a model whose context size it knows, so it serves every backend alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from autogen_core.models import FunctionExecutionResultMessage, LLMMessage, SystemMessage

__all__ = ["CUT_MARK", "fit_to_context"]

CUT_MARK = " [...] "
"""What replaces the middle of a message shortened to fit."""

TokenCounter = Callable[[Sequence[LLMMessage]], int]


def fit_to_context(messages: Sequence[LLMMessage], limit: int, count: TokenCounter) -> Sequence[LLMMessage]:
    """``messages`` within ``limit`` tokens (as ``count`` counts them): oldest history dropped, then cut.

    Returns ``messages`` itself when they fit, else a new list.
    """
    if count(messages) <= limit:
        return messages
    kept = list(messages)
    head = 0
    while head < len(kept) and isinstance(kept[head], SystemMessage):
        head += 1
    while len(kept) - head > 1 and count(kept) > limit:
        del kept[head]
        while len(kept) - head > 1 and isinstance(kept[head], FunctionExecutionResultMessage):
            del kept[head]  # its call is gone
    return _shortened(kept, limit, count)


def _shortened(messages: list[LLMMessage], limit: int, count: TokenCounter) -> list[LLMMessage]:
    """Cut the middle of the longest text message until the prompt fits (or nothing is left to cut)."""
    over = count(messages) - limit
    while over > 0:
        cuttable = [i for i, m in enumerate(messages)
                    if isinstance(m.content, str) and len(m.content) > 4 * len(CUT_MARK)]
        if not cuttable:
            break
        index = max(cuttable, key=lambda i: len(str(messages[i].content)))
        text = str(messages[index].content)
        per_token = len(text) / max(count([messages[index]]), 1)
        keep = max(len(CUT_MARK), (len(text) - int((over + 8) * per_token) - len(CUT_MARK)) // 2)
        messages[index] = messages[index].model_copy(
            update={"content": text[:keep] + CUT_MARK + text[len(text) - keep:]})
        over = count(messages) - limit
    return messages
