"""Batch jobs over a scenario: what `arun_batch` calls for each dialogue id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from roleplay.backends import ClientPool, takes_base_url
from roleplay.dialog import Dialog
from roleplay.errors import ScenarioError
from roleplay.generators import PersonaDialogGenerator
from roleplay.scenario import Scenario
from roleplay.usage import SAMPLER, add_lines, metered

if TYPE_CHECKING:
    from roleplay.policy._steering import Steering

__all__ = ["ScenarioJob", "batch_job"]


class ScenarioJob:
    """A batch job over a scenario: ``await job(index, seed)`` generates dialogue ``index``.

    Everything that is the same for many dialogues is prepared once: personas, policy graph and
    generator are built once per (grid variant, server) and reused, so a dialogue only builds its agents
    with its seed. The job owns the run's `ClientPool` (one HTTP client per server for every agent and
    dialogue); use it as ``async with job:`` (`arun_batch` does) so the clients are closed at the end.

    With ``trials`` K > 1 (``roleplay batch --trials K``), dialogue ``index`` is trial ``index % K`` of task
    ``index // K``: every trial of a task plays the same variant with the same drawn cast (drawn with trial
    0's seed) under its own seed, and records ``metadata["trial"] = {"task", "trial"}`` for pass^k.
    """

    def __init__(self, scenario: Scenario, model: str | None, max_turns: int | None, servers: list[str],
                 backend_options: dict[str, Any]):
        self.scenario = scenario
        self.model = model
        self.max_turns = max_turns
        self.servers = servers
        self.backend_options = backend_options
        self.pool = ClientPool()
        self.trials = 1
        self.samplers = scenario.samplers(model)  # rules files read once; each dialogue draws its own cast
        self._variants = len(scenario.grid())
        self._prepared: dict[tuple[int, int], tuple[PersonaDialogGenerator, dict[str, Any]]] = {}
        self.sampler_usage: dict[int, list[Any]] = {}

    def prepared(self, index: int) -> tuple[PersonaDialogGenerator, dict[str, Any], str | None]:
        """The generator of dialogue ``index``, its variant combination and its server (built on first use)."""
        server = index % len(self.servers) if self.servers else 0
        key = (index % self._variants, server)
        if key not in self._prepared:
            variant, combination = self.scenario.variant(index)
            options = {**self.backend_options, "base_url": self.servers[server]} if self.servers else \
                self.backend_options
            generator = variant.generator(model=self.model, max_turns=self.max_turns, pool=self.pool, **options)
            self._prepared[key] = (generator, combination)
        generator, combination = self._prepared[key]
        return generator, combination, self.servers[server] if self.servers else None

    async def sampled_generator(
        self, index: int, seed: int
    ) -> tuple[PersonaDialogGenerator, dict[str, Any], dict[str, Any], str | None]:
        """Dialogue ``index``'s generator over the cast drawn with ``seed``, its variant, the drawn fields, its server.

        The cast is a pure function of the seed, so a resumed batch redraws the same personas. The sampler's
        model calls are counted apart (`roleplay.usage`, source ``sampler``) in ``self.sampler_usage``.
        """
        with metered(SAMPLER) as meter:
            cast, sampled = await self.scenario.acast(seed, self.samplers)
        self.sampler_usage[index] = meter.lines()
        variant, combination = cast.variant(index)
        server = self.servers[index % len(self.servers)] if self.servers else None
        options = {**self.backend_options, "base_url": server} if server else self.backend_options
        generator = variant.generator(model=self.model, max_turns=self.max_turns, pool=self.pool, **options)
        return generator, combination, sampled, server

    async def __call__(self, index: int, seed: int, steer: Steering | None = None) -> Dialog:
        sampled: dict[str, Any] = {}
        task, trial = divmod(index, self.trials)
        if self.samplers:
            generator, combination, sampled, server = await self.sampled_generator(task, seed - trial)
        else:
            generator, combination, server = self.prepared(task)
        dialog = await generator.agenerate(seed=seed, id=index, steer=steer)
        add_lines(dialog, self.sampler_usage.pop(index, []))
        if self.trials > 1:
            dialog.metadata["trial"] = {"task": task, "trial": trial}
        if combination:
            dialog.metadata["variant"] = combination
        if sampled:
            dialog.metadata["sampled"] = sampled
        if server is not None:
            dialog.metadata["server"] = server
        return dialog

    async def __aenter__(self) -> ScenarioJob:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.aclose()


def batch_job(scenario: Scenario, model: str | None = None, max_turns: int | None = None,
              servers: Sequence[str] = (), **backend_options: Any) -> ScenarioJob:
    """What `arun_batch` runs for dialogue ``index``: grid variant ``index % size`` on server ``index % pool``.

    ``servers`` is a pool of base URLs of identical model servers (Ollama or OpenAI-compatible). Pinning
    a dialogue to a server by its index, not to whichever is free, keeps its result independent of the
    concurrency and lets a server that runs one request at a time still take part in a parallel batch.
    """
    if servers:
        in_process = sorted({spec for spec in (model or a.model or scenario.model for a in scenario.agents)
                             if not takes_base_url(spec)})
        if in_process:
            raise ScenarioError(f"server URLs were given, but {', '.join(in_process)} runs in this process; "
                                "use an ollama: or openai: model with --base-url.", scenario.path)
    return ScenarioJob(scenario, model, max_turns, list(servers), backend_options)
