"""AutoGen's private modules that roleplay uses (all in `roleplay.backends._autogen_private`) are still there.

An autogen-ext upgrade that moves or renames one fails here, naming it, instead of deep inside a run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from autogen_core.models import ChatCompletionClient

from roleplay.backends._autogen_private import ollama_client_base, ollama_model_info, openai_model_info

PACKAGE = Path(__file__).resolve().parent.parent / "roleplay"


def test_autogen_knows_the_openai_models_it_did():
    assert openai_model_info("gpt-4o")["family"] == "gpt-4o"
    with pytest.raises((KeyError, ValueError)):  # roleplay then falls back to plain-chat model info
        openai_model_info("no-such-model")


def test_autogen_has_its_ollama_model_table_and_client_base():
    pytest.importorskip("ollama", reason="autogen-ext[ollama] is an optional extra")
    assert "json_output" in ollama_model_info("llama3.1")
    base = ollama_client_base()
    assert issubclass(base, ChatCompletionClient)
    assert "client" in base.__init__.__code__.co_varnames  # it takes a ready AsyncClient


def test_no_other_module_imports_a_private_autogen_module():
    private = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            private += [f"{path.name}:{node.lineno} {name}" for name in names
                        if name.startswith("autogen") and any(part.startswith("_") for part in name.split("."))]
    assert all(line.startswith("_autogen_private.py:") for line in private), private
