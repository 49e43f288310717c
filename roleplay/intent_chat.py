"""Intent-driven multi-turn synthesis (ConsistentChat-style): taxonomy → query skeletons → answers.

For each intent of a taxonomy (``scenarios/intents.yaml``: categories, each with intents whose
description says the user's goal and how it evolves), `IntentChatGenerator` makes
``num_dialogs_per_intent`` conversations in two schema-constrained stages:

1. a *query skeleton*: all the user's questions at once, one per user turn, following one evolving
   goal (``{"queries": [...]}`` with exactly that many items);
2. the assistant's answers, turn by turn, each generated with the whole conversation so far in view
   (``{"answer": ...}``), so later answers stay consistent with earlier ones.

``num_turns_per_dialog`` counts *messages*: 6 means user, assistant, user, assistant, user,
assistant (3 questions, 3 answers); it must be even. Questions and answers are capped at 160 and
400 characters, which usually fits the token budget; a reply of digits (one token each) can still be
cut off, and the structured-output retries then apply. Conversations with an empty message, a wrong
role order or a wrong number of messages are regenerated (up to ``attempts`` times) and then
dropped; the reasons are counted in the report.

Runs are resumable like a pipeline step: the work lives in ``<out>.parts/`` (one batch folder, see
`roleplay.runs.batch`, plus each dialogue's skeleton, saved before stage 2), so an interrupted run skips
finished dialogues and reuses finished skeletons. The JSONL output is written at the end, atomically.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roleplay._aio import run_sync
from roleplay._atomic import atomic_write_text
from roleplay._yaml import problems, read_yaml
from roleplay.backends import DEFAULT_MODEL, get_backend
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.errors import ConfigError, ScenarioError
from roleplay.evaluation import distinct_n
from roleplay.prompts import render
from roleplay.resources import intents_taxonomy
from roleplay.runs.batch import arun_batch
from roleplay.runs.folder import RunFolder
from roleplay.structured import complete_structured


class Intent(BaseModel):
    """One user intent: what the user wants and how the goal evolves across turns."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)


class Category(BaseModel):
    """A topic with its intents."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    intents: list[Intent] = Field(min_length=1)


class Taxonomy(BaseModel):
    """Categories of intents (``scenarios/intents.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    categories: list[Category] = Field(min_length=1)

    def pairs(self) -> list[tuple[Category, Intent]]:
        """Every (category, intent), in file order."""
        return [(c, i) for c in self.categories for i in c.intents]


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read and check a taxonomy YAML file."""
    data = read_yaml(path, "taxonomy", "Check the path (see scenarios/intents.yaml).")
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(f"invalid taxonomy ({problems(err)}). Expected categories: [{{name, intents: [{{name, "
                            "description}}]}}].", path) from err


def conversation_problem(conversation: list[dict[str, str]], turns: int) -> str | None:
    """Why a conversation fails the quality filters (None: it passes)."""
    if len(conversation) != turns:
        return "wrong_turn_count"
    if any(not m.get("value", "").strip() for m in conversation):
        return "empty_turn"
    if any(m.get("role") != ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(conversation)):
        return "wrong_alternation"
    return None


def to_dialog(row: dict[str, Any]) -> Dialog:
    """An output row as a `Dialog` (speakers ``user``/``assistant``)."""
    return Dialog(id=row.get("id"), seed=row.get("seed"), model=row.get("model"),
                  scenario={"category": row["category"], "intent": row["intent"]},
                  turns=[Turn(m["role"], m["value"]) for m in row["conversation"]])


class IntentChatGenerator:
    """Two-stage, schema-constrained synthesis of consistent user–assistant conversations."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        num_dialogs_per_intent: int = 20,
        num_turns_per_dialog: int = 6,
        temperature: float = 0.9,
        taxonomy: Taxonomy | str | Path | None = None,
        seed: int = 0,
        concurrency: int = 4,
        attempts: int = 3,
        max_tokens: int = 384,
        **backend_options: Any,
    ):
        if num_turns_per_dialog < 2 or num_turns_per_dialog % 2:
            raise ConfigError(f"num_turns_per_dialog counts user + assistant messages and must be even and >= 2 "
                              f"(e.g. 6 = 3 questions + 3 answers), got {num_turns_per_dialog}.")
        if num_dialogs_per_intent < 1:
            raise ConfigError("num_dialogs_per_intent must be at least 1.")
        self.model = model
        self.per_intent = num_dialogs_per_intent
        self.turns = num_turns_per_dialog
        self.temperature = temperature
        self.taxonomy = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy or intents_taxonomy())
        self.seed = seed
        self.concurrency = concurrency
        self.attempts = attempts
        self.max_tokens = max_tokens
        self.backend_options = backend_options

    @property
    def total(self) -> int:
        """How many conversations a run makes (before filtering)."""
        return len(self.taxonomy.pairs()) * self.per_intent

    async def _ask(self, seed: int, system: str, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        """One schema-constrained call on a model seeded for it (closed afterwards)."""
        model = get_backend(self.model, seed=seed, temperature=self.temperature, max_tokens=self.max_tokens,
                            **self.backend_options)
        try:
            output, _, _ = await complete_structured(model, system, prompt, schema, attempts=self.attempts)
        finally:
            await model.close()
        return output

    async def skeleton(self, category: Category, intent: Intent, seed: int) -> list[str]:
        """Stage 1: the user's questions for every user turn, following one evolving goal."""
        questions = self.turns // 2
        schema = {"type": "object", "required": ["queries"], "properties": {"queries": {
            "type": "array", "minItems": questions, "maxItems": questions,
            "items": {"type": "string", "minLength": 1, "maxLength": 160}}}}
        output = await self._ask(seed, render("intent_skeleton_system"),
                                 render("intent_skeleton", category=category.name, intent=intent.name,
                                        description=intent.description, questions=questions), schema)
        return [str(q) for q in output["queries"]]

    async def answer(self, conversation: list[dict[str, str]], category: Category, seed: int) -> str:
        """Stage 2: the assistant's answer to the last question, seeing the whole conversation."""
        schema = {"type": "object", "required": ["answer"],
                  "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": 400}}}
        transcript = "\n".join(f"{m['role']}: {m['value']}" for m in conversation)
        output = await self._ask(seed, render("intent_answer_system", category=category.name),
                                 render("intent_answer", transcript=transcript), schema)
        return str(output["answer"]).strip()

    async def conversation(self, index: int, seed: int, parts: Path) -> Dialog:
        """Dialogue ``index``: its skeleton (cached in ``parts``), then its answers; regenerated if filtered."""
        category, intent = self.taxonomy.pairs()[index // self.per_intent]
        rejected: Counter[str] = Counter()
        for attempt in range(self.attempts):
            sub_seed = seed * 100 + attempt
            cached = parts / "skeletons" / f"{index}_{attempt}.json"
            if cached.is_file():
                queries = json.loads(cached.read_text(encoding="utf-8"))
            else:
                queries = await self.skeleton(category, intent, sub_seed)
                atomic_write_text(cached, json.dumps(queries))
            conversation: list[dict[str, str]] = []
            for number, query in enumerate(queries):
                conversation.append({"role": "user", "value": query.strip()})
                conversation.append({"role": "assistant",
                                     "value": await self.answer(conversation, category, sub_seed + 7 * number)})
            problem = conversation_problem(conversation, self.turns)
            if problem is None:
                break
            rejected[problem] += 1
        row = {"category": category.name, "intent": intent.name, "conversation": conversation}
        dialog = to_dialog({**row, "id": index, "seed": seed, "model": self.model})
        dialog.stop_reason = StopReason.GENERATED
        dialog.metadata.update(row=row, rejected=dict(rejected), passed=problem is None)
        return dialog

    async def arun(self, out: str | Path = "intent_chat.jsonl", progress: bool = True) -> dict[str, Any]:
        """Generate every conversation (resumable), then write the JSONL ``out``; return the report."""
        out = Path(out)
        parts = out.with_name(out.name + ".parts")
        (parts / "skeletons").mkdir(parents=True, exist_ok=True)

        async def make(index: int, seed: int) -> Dialog:
            return await self.conversation(index, seed, parts)

        params = {"model": self.model, "turns": self.turns, "per_intent": self.per_intent,
                  "temperature": self.temperature, "taxonomy": self.taxonomy.model_dump()}
        result = await arun_batch(make, self.total, parts, seed=self.seed, concurrency=self.concurrency,
                                  attempts=self.attempts, progress=progress, params=params)
        rows, rejected, kept_out = [], Counter[str](), 0
        folder = RunFolder(parts)
        for index in range(self.total):
            if not folder.path(index).is_file():
                continue
            dialog = Dialog.from_file(folder.path(index))
            rejected.update(dialog.metadata.get("rejected", {}))
            if dialog.metadata.get("passed"):
                rows.append({**dialog.metadata["row"], "id": index, "seed": dialog.seed, "model": self.model})
            else:
                kept_out += 1
        atomic_write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        texts = [m["value"] for r in rows for m in r["conversation"]]
        report = {"out": str(out), "conversations": len(rows), "dropped": kept_out, "failed": result.failed,
                  "regenerations_by_reason": dict(rejected), "seconds": result.seconds,
                  "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2)}
        atomic_write_text(out.with_name(out.name + ".report.json"), json.dumps(report, indent=2))
        return report

    def run(self, out: str | Path = "intent_chat.jsonl", progress: bool = True) -> dict[str, Any]:
        """Sync `arun` (works inside Jupyter too)."""
        return run_sync(self.arun(out, progress))

    def generate(self, out: str | Path = "intent_chat.jsonl") -> list[dict[str, Any]]:
        """Run and return the output rows."""
        self.run(out, progress=False)
        return [json.loads(line) for line in Path(out).read_text(encoding="utf-8").splitlines()]
