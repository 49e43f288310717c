"""Any OpenAI-compatible server: ``openai:<model>`` (OpenAI, vLLM, llama.cpp's servers, LM Studio, ...).

The URL comes from the ``base_url`` option or ``$OPENAI_BASE_URL``; the key from ``api_key`` or
``$OPENAI_API_KEY`` (local servers accept any key, so a placeholder is used when none is set).
Constrained decoding: OpenAI and vLLM take ``response_format={"type": "json_schema", ...}``; llama.cpp's
Python server takes only ``{"type": "json_object", "schema": ...}``. The model tries the first, and if
the server rejects that request's ``response_format``, switches to the second for good.
Speaker names are not sent in the ``name`` field, which many compatible servers reject; each agent is
told who is who in its system prompt instead.
"""

from __future__ import annotations

import os
from typing import Any

from autogen_core.models import CreateResult

from roleplay.backends.base import BackendOptions, Model, default_model_info, json_object_schema_args
from roleplay.errors import BackendError, BackendUnavailableError, ConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _json_schema_args(schema: dict[str, Any]) -> dict[str, Any]:
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}}


class OpenAICompatModel(Model):
    """A `Model` that falls back to the ``json_object`` + schema dialect when a server rejects ``json_schema``."""

    async def create(self, messages: Any, **kwargs: Any) -> CreateResult:
        try:
            return await super().create(messages, **kwargs)
        except BackendError as err:
            rejected = "response_format" in str(err) and "json_schema" in str(err)
            if not rejected or self._schema_args is json_object_schema_args:
                raise
            self._schema_args = json_object_schema_args
            return await super().create(messages, **kwargs)


def make_client(model: str, options: BackendOptions) -> Model:
    """Registry factory: ``openai:<model>`` with ``base_url`` and ``api_key``."""
    if not model:
        raise ConfigError("Name the model: 'openai:<model>', e.g. 'openai:gpt-4o-mini'.")
    try:
        from autogen_ext.models.openai import OpenAIChatCompletionClient
        from autogen_ext.models.openai._model_info import get_info
    except ImportError as err:
        raise BackendUnavailableError("The OpenAI backend needs autogen-ext[openai]; run 'make venv'.") from err
    base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    info = options.model_info
    if info is None:
        try:
            info = dict(get_info(model))
        except (KeyError, ValueError):  # unknown to AutoGen's table: a local or third-party model
            info = dict(default_model_info())
    create_args = {"temperature": options.temperature, "seed": options.seed, "max_tokens": options.max_tokens}
    client = OpenAIChatCompletionClient(
        model=model,
        base_url=base_url,
        api_key=options.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=options.timeout,
        max_retries=options.max_retries,
        model_info=info,  # type: ignore[arg-type]
        include_name_in_message=False,
        **{k: v for k, v in create_args.items() if v is not None},  # type: ignore[arg-type]
    )
    return OpenAICompatModel(client, name=f"openai:{model}", backend="openai", url=base_url,
                             schema_args=_json_schema_args, options=options)
