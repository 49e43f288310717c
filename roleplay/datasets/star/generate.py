"""Synthetic STAR dialogues for any real dialogue's scenario: one at a time, or as a job for `runs.batch`.

Two ways, as in the seed tutorial: ``description`` (one model writes the whole dialogue from
`StarDataset.get_scenario_description`, actions labelled in the JSON) and ``roleplay`` (a User agent
and a System agent, the System kept on the task graphs by a `PolicyOrchestrator`; ``enforce=False``
gives the prompt-only baseline). Speakers are ``User`` and ``System``.

Many dialogues run on the batch engine (`star_job` for `roleplay.runs.batch.arun_batch`, or
`agenerate_star_batch`): the same folder layout, lock, retries, ``failures.jsonl`` and resume as
`roleplay batch`. Each synthetic dialogue has the id of the real dialogue whose scenario it plays
(``dialogs/<id>.json``, the ``id`` in the index) and, with the batch seed 0, that id as its seed.

Realism (role-play, enforced): ``prior`` steers the System by how often human wizards took each
transition (`roleplay.policy.prior`: none, rank, nucleus, sample, argmax), ``goal_user`` makes the User
goal-aware (`star_user_goal`: it answers from its facts and closes once served, so dialogues end
naturally) and, with ``behaviours``, draws how it departs from a plain cooperative user with the rates of
STAR's real users (a correction, an out-of-scope question...: seeded by the dialogue's seed), and
``held_out`` runs a scenario on graphs mined without its fold (`fold_of`), so a benchmark never plays a
dialogue the graphs and counts were mined from.

Every function takes the dataset as ``star`` (a `StarDataset`); None means the one ``STAR.set_path`` chose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from roleplay import defaults
from roleplay.backends import takes_base_url
from roleplay.datasets.star._format import SYSTEM, USER, scenario_tasks
from roleplay.datasets.star._loader import STAR, StarDataset, fold_of
from roleplay.datasets.star.user import star_user_goal
from roleplay.dialog import Dialog
from roleplay.errors import ConfigError
from roleplay.generators import AgentSpec, DialogGenerator, PersonaDialogGenerator
from roleplay.policy._steering import Steering
from roleplay.policy.orchestrator import Policy
from roleplay.policy.prior import PRIOR_MODES, Prior, PriorMode
from roleplay.policy.tools import QueryTool
from roleplay.runs.batch import BatchResult, MakeDialog, arun_batch
from roleplay.runs.cover import CoverJob, cover_kind

__all__ = ["MODES", "agenerate_star", "agenerate_star_batch", "description_generator", "description_output_format",
           "query_tool", "roleplay_generator", "star_job", "star_policy"]

Mode = Literal["roleplay", "description"]
MODES = ("roleplay", "description")
MAX_DESCRIBED_TURNS = 16
MAX_TURN_CHARS = 200


def _dataset(star: StarDataset | None) -> StarDataset:
    return star if star is not None else STAR.dataset


def description_output_format(scenario: dict[str, Any]) -> dict[str, Any]:
    """JSON schema of a described STAR dialogue: User/System turns, System turns with their action.

    Bounded (turn count, turn length) so that constrained decoding closes the JSON within the token budget.
    """
    return {
        "type": "object",
        "properties": {"dialog": {"type": "array", "minItems": 2, "maxItems": MAX_DESCRIBED_TURNS, "items": {
            "type": "object",
            "properties": {"speaker": {"type": "string", "enum": [USER, SYSTEM]},
                           "text": {"type": "string", "maxLength": MAX_TURN_CHARS},
                           "action": {"type": "string", "maxLength": 60}},
            "required": ["speaker", "text"],
        }}},
        "required": ["dialog"],
    }


def query_tool(task: str, seed: int = 0, availability: float = 1.0, star: StarDataset | None = None,
               lenient: bool = False) -> QueryTool:
    """The tool of a STAR task's query nodes (its API over rows generated from its db specs)."""
    star = _dataset(star)
    api = star.get_api(task)
    return QueryTool(api, star.get_db_schema(api.get("db")), seed=seed, availability=availability, lenient=lenient)


def star_policy(scenario: dict[str, Any], enforce: bool = True, seed: int = 0, star: StarDataset | None = None,
                *, prior: PriorMode | Prior = "none", goal_user: bool = False, held_out: int | None = None,
                behaviours_seed: int | None = None) -> Policy:
    """The System's policy for a scenario: one reconstructed graph and one tool per task.

    In a happy scenario bookings always succeed and a search finds the closest rows (a lenient tool), as
    STAR's knowledge base had what happy users asked for; otherwise bookings succeed half the time.
    ``prior``, ``goal_user``: see the module; ``held_out``: a fold whose dialogues the graphs (and the users'
    behaviour rates) are not mined from; ``behaviours_seed``: draw the goal-aware user's behaviours with it.
    """
    star = _dataset(star)
    tasks = scenario_tasks(scenario)
    if not tasks:
        raise ConfigError("The scenario lists no WizardCapabilities; pass a scenario from STAR.")
    happy = bool(scenario.get("Happy", True))
    return Policy(agent=SYSTEM, graphs={t: star.get_task_graph(t, held_out=held_out) for t in tasks},
                  tools={t: query_tool(t, seed, 1.0 if happy else 0.5, star, lenient=happy) for t in tasks},
                  enforce=enforce,
                  prior=prior if isinstance(prior, Prior) else _prior(prior),
                  user_goal=star_user_goal(scenario, star, behaviours_seed, held_out) if goal_user else None)


def _prior(mode: str) -> Prior:
    if mode not in PRIOR_MODES:
        raise ConfigError(f"Unknown prior {mode!r}; use one of: {', '.join(PRIOR_MODES)}.")
    return Prior(mode=mode)


def roleplay_generator(scenario: dict[str, Any], model: str = "embedded", enforce: bool = True,
                       max_turns: int = defaults.STAR_MAX_TURNS, star: StarDataset | None = None, *,
                       policy: Policy | None = None, **options: Any) -> PersonaDialogGenerator:
    """User and System agents for a STAR scenario, the System on ``policy`` (default: `star_policy`)."""
    star = _dataset(star)
    options = {"max_tokens": 160, "max_sentences": 3, "repeat_penalty": 1.15, **options}
    return PersonaDialogGenerator(
        model, scenario=scenario, first_speaker=SYSTEM, max_turns=max_turns,
        agents=[AgentSpec(name=USER, persona=star.get_user_persona_for_scenario(scenario)),
                AgentSpec(name=SYSTEM, persona=star.get_system_persona_for_scenario(scenario))],
        policy=policy or star_policy(scenario, enforce, star=star), **options)


def description_generator(scenario: dict[str, Any], model: str = "embedded", star: StarDataset | None = None,
                          **options: Any) -> DialogGenerator:
    """One model writing a whole STAR dialogue from the scenario's description."""
    options = {"max_tokens": 1536, "num_ctx": 8192, **options}  # a multi-task description is ~3k tokens
    return DialogGenerator(model, dialogue_details=_dataset(star).get_scenario_description(scenario),
                           output_format=description_output_format(scenario), scenario=scenario, **options)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}.")


async def agenerate_star(dialog_id: int | str, mode: Mode = "roleplay", model: str = "embedded",
                         enforce: bool = True, seed: int | None = None, star: StarDataset | None = None, *,
                         prior: PriorMode | Prior = "none", goal_user: bool = False, held_out: bool = False,
                         behaviours: bool = False, steer: Steering | None = None, **options: Any) -> Dialog:
    """One synthetic dialogue for the scenario of real dialogue ``dialog_id`` (seed: the id).

    ``prior``, ``goal_user``, ``behaviours`` (the goal-aware user's, drawn with ``seed``), ``held_out`` (graphs
    mined without this dialogue's fold): see the module.
    """
    _check_mode(mode)
    star = _dataset(star)
    scenario = star.get_dialog_scenario(dialog_id)
    seed = int(dialog_id) if seed is None else seed
    if steer is not None and mode != "roleplay":
        raise ConfigError("--cover steers a role-played System on its graph; the description mode has none.")
    if mode == "roleplay":
        policy = star_policy(scenario, enforce, star=star, prior=prior, goal_user=goal_user,
                             held_out=fold_of(dialog_id) if held_out else None,
                             behaviours_seed=seed if behaviours else None)
        roleplayed = roleplay_generator(scenario, model, enforce, star=star, policy=policy, **options)
        dialog = await roleplayed.agenerate(seed=seed, id=dialog_id, steer=steer)
    else:
        dialog = await description_generator(scenario, model, star=star, **options).agenerate(seed=seed, id=dialog_id)
    dialog.metadata["mode"] = mode if mode == "description" else ("roleplay" if enforce else "roleplay_prompt_only")
    return dialog


def star_job(mode: Mode = "roleplay", model: str = "embedded", enforce: bool = True, servers: Sequence[str] = (),
             star: StarDataset | None = None, ids: Sequence[int | str] = (), **options: Any) -> MakeDialog:
    """What `arun_batch` runs for a STAR dialogue id: its synthetic dialogue, on a server of the pool.

    ``servers`` is a pool of base URLs of identical model servers (as for `roleplay batch`). The k-th id
    of ``ids`` goes to server ``k % pool`` (an id not listed: ``id % pool``). Pinning a dialogue to a
    server keeps its result independent of the concurrency; pinning by position, not by id, spreads
    STAR's ids (often all odd, say) evenly over the pool.
    """
    _check_mode(mode)
    star = _dataset(star)
    if servers and not takes_base_url(model):
        raise ConfigError(f"server URLs were given, but {model} runs in this process; use an ollama: or openai: "
                          "model with --base-url.")
    position = {dialog_id: k for k, dialog_id in enumerate(ids)}

    async def job(dialog_id: int | str, seed: int, steer: Steering | None = None) -> Dialog:
        slot = position.get(dialog_id, int(dialog_id))
        server: dict[str, Any] = {"base_url": servers[slot % len(servers)]} if servers else {}
        dialog = await agenerate_star(dialog_id, mode, model, enforce, seed=seed, star=star, steer=steer, **options,
                                      **server)
        if servers:
            dialog.metadata["server"] = server["base_url"]
        return dialog
    return job


async def agenerate_star_batch(ids: Iterable[int | str], out: str | Path, mode: Mode = "roleplay",
                               model: str = "embedded", enforce: bool = True, progress: bool = True, *,
                               star: StarDataset | None = None, servers: Sequence[str] = (), concurrency: int = 1,
                               attempts: int = 3, max_failures: int | None = None, force: bool = False,
                               cover: str | None = None, cover_wave: int = 1, **options: Any) -> BatchResult:
    """One synthetic dialogue per STAR id into the run folder ``out`` (``dialogs/<id>.json``), on the batch engine.

    Resumable like `roleplay batch`: ids already done are skipped, failures are retried and listed in
    ``failures.jsonl``; a resume with another mode, model or options is refused unless ``force``.
    ``cover`` (edges or branches): steer each dialogue towards what earlier ones left uncovered
    (`roleplay.runs.cover`, waves of ``cover_wave`` dialogues).
    """
    star = _dataset(star)
    ids = [int(i) if isinstance(i, str) and i.isdigit() else i for i in ids]
    for dialog_id in ids:
        star.get_dialog_scenario(dialog_id)  # an unknown, unsafe or broken id fails before any generation
    job: MakeDialog = star_job(mode, model, enforce, servers, star, ids, **options)
    params = {"kind": "star", "star_path": str(star.root), "mode": mode, "model": model, "enforce": enforce,
              "options": options, **({"cover": {"kind": cover, "wave": cover_wave}} if cover else {})}
    if cover is not None:
        job = star_cover_job(job, ids, out, cover, star, mode, bool(options.get("held_out")), wave=cover_wave,
                             attempts=attempts, max_turns=options.get("max_turns", 16))
    return await arun_batch(job, ids, out, seed=0, concurrency=concurrency, attempts=attempts,
                            max_failures=max_failures, progress=progress, params=params, force=force)


def star_cover_job(job: MakeDialog, ids: Sequence[int | str], out: str | Path, cover: str, star: StarDataset,
                   mode: str, held_out: bool, **options: Any) -> CoverJob:
    """A STAR job steered towards uncovered edges of each scenario's task graphs (`roleplay.runs.cover`)."""
    if mode != "roleplay":
        raise ConfigError("--cover steers a role-played System on its graph; the description mode has none.")
    graphs: dict[tuple[str, int | None], Any] = {}

    def graphs_for(dialog_id: int | str) -> dict[str, Any]:
        fold = fold_of(dialog_id) if held_out else None
        for task in scenario_tasks(star.get_dialog_scenario(dialog_id)):
            if (task, fold) not in graphs:
                graphs[task, fold] = star.get_task_graph(task, held_out=fold)
        return {t: graphs[t, fold] for t in scenario_tasks(star.get_dialog_scenario(dialog_id))}
    return CoverJob(job, ids, graphs_for, cover_kind(cover), out, seed=0, **options)
