"""`PlainChatClient`: the plumbing every client roleplay writes itself shares, and plain-chat model info."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelInfo, RequestUsage

__all__ = ["PlainChatClient", "default_model_info"]


def default_model_info(**overrides: Any) -> ModelInfo:
    """Model info for models AutoGen's table does not know: plain chat that can emit JSON."""
    info: dict[str, Any] = {
        "vision": False,
        "function_calling": False,
        "json_output": True,
        "structured_output": True,
        "family": "unknown",
    }
    info.update(overrides)
    return ModelInfo(**info)  # type: ignore[typeddict-item]


class PlainChatClient(ChatCompletionClient):
    """Shared plumbing for the clients roleplay writes itself (llama.cpp, OpenAI-compatible, scripted).

    Usage totals, a stream that is the whole reply in one chunk, and plain-chat model info. Subclasses
    implement `create` and call `record` with each call's usage.
    """

    def __init__(self) -> None:
        self._usage = RequestUsage(prompt_tokens=0, completion_tokens=0)

    def record(self, usage: RequestUsage) -> RequestUsage:
        """Add one call's usage to the running total and return it."""
        self._usage = RequestUsage(prompt_tokens=self._usage.prompt_tokens + usage.prompt_tokens,
                                   completion_tokens=self._usage.completion_tokens + usage.completion_tokens)
        return usage

    async def create_stream(  # one chunk: turns are short and bounded
        self, messages: Sequence[LLMMessage], **kwargs: Any
    ) -> AsyncGenerator[str | CreateResult, None]:
        yield await self.create(messages, **kwargs)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._usage

    def total_usage(self) -> RequestUsage:
        return self._usage

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen; required by its ABC
        return self.model_info

    @property
    def model_info(self) -> ModelInfo:
        return default_model_info()

