"""Every use of AutoGen's private modules, in one place, each behind a function that imports it when called.

autogen-ext keeps two things roleplay needs out of its public API: its tables of what each OpenAI and Ollama
model can do (``_model_info.get_info``), and the Ollama client base class that takes a ready ``AsyncClient``
(the public subclass always builds its own, so a run could not share one per server). They are pinned to
autogen-ext 0.7.5; tests/test_autogen_private.py calls each function, so an upgrade that moves one fails
there, by name, instead of deep inside a run.
"""

from __future__ import annotations

from typing import Any

from autogen_core.models import ModelInfo

__all__ = ["ollama_client_base", "ollama_model_info", "openai_model_info"]


def openai_model_info(model: str) -> ModelInfo:
    """AutoGen's model info for an OpenAI model name (KeyError or ValueError for one its table does not know)."""
    from autogen_ext.models.openai._model_info import get_info

    return get_info(model)


def ollama_model_info(model: str) -> ModelInfo:
    """AutoGen's model info for an Ollama tag (KeyError or ValueError for one its table does not know)."""
    from autogen_ext.models.ollama._model_info import get_info

    return get_info(model)


def ollama_client_base() -> type[Any]:
    """``BaseOllamaChatCompletionClient``, the Ollama client that takes a ready ``AsyncClient``.

    ImportError without ``autogen-ext[ollama]``.
    """
    from autogen_ext.models.ollama._ollama_client import BaseOllamaChatCompletionClient

    return BaseOllamaChatCompletionClient
