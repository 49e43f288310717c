"""The STAR dataset (Mosig et al. 2020, MIT licence) read from a local copy: dialogues, scenarios, graphs.

`StarDataset(path)` is one copy of STAR with its own caches (files read once, graphs built once per
setting); pass it around. `STAR` keeps the seed tutorial's class-style API (``STAR.set_path(...)``,
then ``STAR.get_dialog(81)``...), so switching is a change of import: it holds one `StarDataset`,
made by `set_path`, and forwards everything else to it. Nothing is downloaded and no path is assumed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx
from tqdm.auto import tqdm

from roleplay._atomic import as_path
from roleplay._ids import checked_id
from roleplay.datasets.star._format import (
    SYSTEM,
    USER,
    check_raw_dialog,
    read_json,
    scenario_tasks,
    to_dialog,
    user_name,
)
from roleplay.datasets.star._graphs import (
    add_mined,
    base_graph,
    count_transitions,
    mark_closing_goals,
    mine_transitions,
    pool_across_tasks,
)
from roleplay.dialog import Dialog
from roleplay.errors import DatasetError
from roleplay.personas import Persona
from roleplay.policy.graph import to_dot

__all__ = ["FOLDS", "STAR", "SYSTEM", "USER", "StarDataWarning", "StarDataset", "StarFacade", "fold_of", "user_name"]

FOLDS = 2
"""Held-out evaluation splits STAR's dialogues in this many folds by id (`fold_of`)."""


def fold_of(dialog_id: int | str) -> int:
    """The fold of a dialogue id: ``(id // 10) % FOLDS`` (the sample's ids all end in 1, so not ``id % 2``)."""
    return (int(dialog_id) // 10) % FOLDS


class StarDataWarning(UserWarning):
    """A STAR file that cannot be read was skipped while reading many dialogues."""


class StarDataset:
    """One local copy of STAR (a folder with ``tasks/``, ``apis/`` and ``dialogues/``) and its caches."""

    def __init__(self, path: str | Path):
        root = as_path(path, "The STAR dataset (its folder)").expanduser()
        missing = [d for d in ("tasks", "dialogues", "apis") if not (root / d).is_dir()]
        if missing:
            raise DatasetError(
                f"{root} is not a STAR folder: missing {', '.join(missing)}/. Pass the folder that holds "
                "tasks/, apis/ and dialogues/ (e.g. ../shared/star).", root)
        self.root = root.resolve()
        self._files: dict[Path, Any] = {}
        self._graphs: dict[tuple[bool, int, int | None, bool], dict[str, nx.DiGraph]] = {}

    def path(self) -> Path:
        """The STAR folder."""
        return self.root

    def _json(self, path: Path) -> Any:
        """A file's contents, read once (treat the result as read-only)."""
        if path not in self._files:
            self._files[path] = read_json(path)
        return self._files[path]

    # --- tasks, APIs ---------------------------------------------------------------------------------
    def tasks(self) -> list[str]:
        """Names of the tasks (``doctor_followup``, ...)."""
        return sorted(p.name for p in (self.root / "tasks").iterdir() if (p / f"{p.name}.json").is_file())

    def get_task(self, task: str) -> dict[str, Any]:
        """A task file's contents: ``task`` (function name), ``replies`` and ``graph``."""
        if task not in self.tasks():
            raise DatasetError(f"Unknown STAR task {task!r}. Known tasks: {', '.join(self.tasks())}.")
        path = self.root / "tasks" / task / f"{task}.json"
        data = self._json(path)
        missing = [key for key in ("task", "replies", "graph") if key not in data]
        if missing:
            raise DatasetError(f"{path} is not a STAR task file: it has no {', '.join(missing)}. Replace it with the "
                               "original from STAR.", path)
        return data

    def get_api(self, task: str) -> dict[str, Any]:
        """The API the task's query node calls (inputs, outputs, required fields, db name)."""
        self.get_task(task)
        path = self.root / "apis" / "apis" / f"{task}.json"
        if not path.is_file():
            raise DatasetError(f"Task {task!r} has no API file at {path}.", path)
        return self._json(path)

    def get_db_schema(self, db: str | None) -> list[dict[str, Any]] | None:
        """The field specs of a STAR database (None for ``"null"``: the API has no db)."""
        if db in ("null", "", None):
            return None
        path = self.root / "apis" / "dbs" / f"{checked_id(db)}.json"
        if not path.is_file():
            raise DatasetError(f"STAR db {db!r} not found at {path}.", path)
        return self._json(path)

    def templates(self) -> dict[str, str]:
        """Every task's template replies merged (first task wins), for labels a task file lacks."""
        merged: dict[str, str] = {}
        for task in self.tasks():
            for label, text in self.get_task(task)["replies"].items():
                merged.setdefault(label, text)
        return merged

    def get_task_graph(self, task: str, mined: bool = True, min_count: int = 1,
                       held_out: int | None = None, pooled: bool = True) -> nx.DiGraph:
        """The reconstructed policy graph of ``task`` (a copy: change it freely).

        Dict + naming rules + the transitions the folder's dialogues took at least ``min_count`` times
        (``mined=False``: dict + rules only) + with ``pooled``, those other tasks' dialogues took between
        labels this task has too; every edge counts how often the dialogues took it in this task, and an
        action after which they mostly closed is a goal too (`mark_closing_goals`). A wizard's typed words
        right after a query that served the request count as the query's result (`label_free_results`). All
        tasks are mined together, so a multi-task dialogue's actions count for the task they belong to.
        ``held_out``: mine only the dialogues outside that fold (`fold_of`), to run or judge that fold's
        scenarios on graphs that never saw them. The defaults accept 95% of held-out wizard transitions
        with 5.6 legal next actions per node (bench/star_graphs.py).
        """
        self.get_task(task)
        key = (mined, min_count, held_out, pooled)
        if key not in self._graphs:
            keep = None if held_out is None else (lambda dialog_id: fold_of(dialog_id) != held_out)
            self._graphs[key] = self.mine_graphs(keep, min_count, pooled) if mined else \
                {t: base_graph(t, self.get_task(t)) for t in self.tasks()}
        return self._graphs[key][task].copy()

    def mine_graphs(self, keep: Callable[[int], bool] | None = None, min_count: int = 1,
                    pooled: bool = True) -> dict[str, nx.DiGraph]:
        """Every task's graph mined from the dialogues whose id ``keep`` accepts (None: all); not cached.

        What `get_task_graph` builds (it caches one set per setting); for other splits of the dialogues,
        such as the inner folds that fit the prior's parameters (bench/star_prior_fit.py).
        """
        graphs = {t: base_graph(t, self.get_task(t)) for t in self.tasks()}
        dialogs = [d for d in self.iter_dialogs(progress=False)
                   if keep is None or (isinstance(d.id, int) and keep(d.id))]  # check_raw_dialog: an int id
        add_mined(graphs, mine_transitions(graphs, dialogs), min_count, self.templates())
        if pooled:
            pool_across_tasks(graphs)
        count_transitions(graphs, dialogs)
        for graph in graphs.values():
            mark_closing_goals(graph)
        return graphs

    # --- dialogues -----------------------------------------------------------------------------------
    def dialog_ids(self) -> list[int]:
        """Ids of the dialogues in the folder, ascending."""
        return sorted(int(p.stem) for p in (self.root / "dialogues").glob("*.json") if p.stem.isdigit())

    def _raw(self, dialog_id: int | str) -> dict[str, Any]:
        path = self.root / "dialogues" / f"{checked_id(dialog_id)}.json"
        if not path.is_file():
            raise DatasetError(f"No STAR dialogue with id {dialog_id!r} in {path.parent}. "
                               "List the ids with STAR.dialog_ids().", path)
        return check_raw_dialog(self._json(path), path)

    def get_dialog(self, dialog_id: int | str) -> Dialog:
        """A real dialogue as a `Dialog` (User/System turns, action labels, queries as events)."""
        raw = self._raw(dialog_id)
        known = set(self.tasks())
        replies = {t: self.get_task(t)["replies"] for t in scenario_tasks(raw["Scenario"]) if t in known}
        return to_dialog(raw, replies)

    def readable_ids(self, progress: bool = False) -> Iterator[int]:
        """The ids whose file is a readable STAR dialogue; each other one is skipped with a `StarDataWarning`."""
        for dialog_id in tqdm(self.dialog_ids(), desc="Reading STAR", unit="dialog", disable=not progress):
            try:
                self._raw(dialog_id)
            except DatasetError as err:
                warnings.warn(f"Skipping STAR dialogue {dialog_id}: {err}", StarDataWarning, stacklevel=2)
                continue
            yield dialog_id

    def iter_dialogs(self, progress: bool = True, **filters: Any) -> Iterator[Dialog]:
        """Yield the dialogues matching ``filters`` (see `get_dialogs`), reading lazily."""
        for dialog_id in self.readable_ids(progress):
            if _matches(self._raw(dialog_id)["Scenario"], **filters):
                yield self.get_dialog(dialog_id)

    def get_dialogs(self, domain: str | None = None, task_name: str | None = None, happy: bool | None = None,
                    multitask: bool | None = None) -> list[Dialog]:
        """Dialogues filtered by domain, wizard task, happy path and multi-task (None: any), with a bar."""
        if task_name is not None:
            self.get_task(task_name)
        return list(self.iter_dialogs(domain=domain, task_name=task_name, happy=happy, multitask=multitask))

    def get_dialog_scenario(self, dialog_id: int | str) -> dict[str, Any]:
        """The scenario of a dialogue: domains, happy, multi-task, user and wizard instructions, tasks."""
        return dict(self._raw(dialog_id)["Scenario"])

    def find_ids(self, task: str | None = None, happy: bool | None = None,
                 multitask: bool | None = None) -> list[int]:
        """Ids of the readable dialogues whose scenario matches (None: any)."""
        if task is not None:
            self.get_task(task)
        return [i for i in self.readable_ids() if _matches(self._raw(i)["Scenario"], None, task, happy, multitask)]

    # --- prompts and personas --------------------------------------------------------------------------
    def get_scenario_description(self, scenario: dict[str, Any]) -> str:
        """A JSON description of a scenario for prompting.

        It holds the roles, the user and system instructions, and per task its reconstructed graph (DOT)
        and the example reply of each node.
        """
        tasks = scenario_tasks(scenario)
        if not tasks:
            raise DatasetError("The scenario lists no WizardCapabilities; pass a scenario from STAR.")
        description = {
            "users": [USER, SYSTEM],
            "user_instructions": scenario.get("UserTask", ""),
            "system_instructions": scenario.get("WizardTask", ""),
            "happy": scenario.get("Happy", True),
            "multitask": scenario.get("MultiTask", False),
            "tasks": {task: {"flowchart": to_dot(self.get_task_graph(task), compact=True),
                             "responses": self.get_task(task)["replies"]} for task in tasks},
        }
        return json.dumps(description, indent=2)

    def get_dialog_scenario_description(self, dialog_id: int | str) -> tuple[dict[str, Any], str]:
        """(scenario, description) of a dialogue."""
        scenario = self.get_dialog_scenario(dialog_id)
        return scenario, self.get_scenario_description(scenario)

    def get_user_persona_for_scenario(self, scenario: dict[str, Any]) -> Persona:
        """The user: named as in the instructions, with the task and how to behave (happy or not)."""
        rules = ("Cooperate: answer the assistant's questions directly and accept what it offers."
                 if scenario.get("Happy", True) else
                 "You may change your mind, give incomplete or contradictory information, or ask for things "
                 "the assistant cannot do, as the instructions say.")
        if scenario.get("MultiTask", False):
            rules += " You have more than one request: after the first is handled, ask about the next."
        return Persona(name=user_name(scenario) or "User", role="user talking to a virtual assistant",
                       circumstances=scenario.get("UserTask", ""),
                       rules=rules + " Speak in short turns. Say goodbye when all your requests are handled.")

    def get_system_persona_for_scenario(self, scenario: dict[str, Any]) -> Persona:
        """The system: a virtual assistant for the scenario's tasks, following their flowcharts."""
        tasks = scenario_tasks(scenario)
        functions = ", ".join(self.get_task(t)["task"].replace("_", " ") for t in tasks)
        rules = "Follow the task flowchart: take one action per turn and use its example reply as a guide."
        if len(tasks) > 1:
            rules += " You can handle several tasks; switch to the task the user asks about."
        if not scenario.get("Happy", True):
            rules += " The user may be difficult: stay polite, ask again, and say what you cannot do."
        return Persona(name=SYSTEM, role="virtual assistant", background=f"You can help with: {functions}.",
                       circumstances=scenario.get("WizardTask", ""), rules=rules)


class StarFacade:
    """`STAR`: the tutorial's class-style access, over the one `StarDataset` it holds.

    ``STAR.set_path(p)`` makes that dataset; every other attribute (``STAR.get_dialog(81)``,
    ``STAR.get_task_graph(...)``...) is the dataset's. Library code takes a `StarDataset` instead.
    """

    def __init__(self) -> None:
        self._dataset: StarDataset | None = None

    def set_path(self, path: str | Path) -> None:
        """Point at a STAR folder (with ``tasks/``, ``apis/`` and ``dialogues/``)."""
        self._dataset = StarDataset(path)

    def clear(self) -> None:
        """Forget the folder (later calls raise until `set_path` is called again)."""
        self._dataset = None

    @property
    def dataset(self) -> StarDataset:
        """The dataset `set_path` made."""
        if self._dataset is None:
            raise DatasetError("No STAR path set. Call STAR.set_path('<folder with tasks/ and dialogues/>') first.")
        return self._dataset

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(n for n in dir(StarDataset) if not n.startswith("_"))})


STAR = StarFacade()
"""The tutorial's ``STAR`` (``from roleplay.datasets import STAR``); see `StarFacade`."""


def _matches(scenario: dict[str, Any], domain: str | None = None, task_name: str | None = None,
             happy: bool | None = None, multitask: bool | None = None) -> bool:
    return ((domain is None or domain in scenario.get("Domains", []))
            and (task_name is None or task_name in scenario_tasks(scenario))
            and (happy is None or scenario.get("Happy") == happy)
            and (multitask is None or bool(scenario.get("MultiTask")) == multitask))
