"""The STAR dataset (Mosig et al. 2020, MIT licence) read from a local copy: dialogues, scenarios, graphs.

The API follows the seed tutorial's ``STAR`` class (class methods over a path set once with
`STAR.set_path`), so switching is a change of import. Nothing is downloaded and no path is assumed.

Real dialogues become `Dialog` objects with speakers ``User``/``System``: a wizard reply picked
from the suggestions carries its ``ActionLabel`` as the turn's ``action`` (``custom``, the wizard's
own text, carries none), and wizard queries become ``query`` events (``task``, ``action`` = the query
node, ``constraints``, ``item``, ``total``, ``found``), as do ``select_task`` switches.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import networkx as nx
from tqdm.auto import tqdm

from roleplay.dialog import Dialog, Event, Turn
from roleplay.errors import DatasetError
from roleplay.personas import Persona
from roleplay.policy.graph import to_dot

USER, SYSTEM = "User", "System"
_NO_LABEL = {"custom"}


class STAR:
    """Class-level access to one local copy of STAR (``STAR.set_path(...)`` first)."""

    _path: Path | None = None

    @classmethod
    def set_path(cls, path: str | Path) -> None:
        """Point at a STAR folder (with ``tasks/``, ``apis/`` and ``dialogues/``)."""
        root = Path(path).expanduser()
        missing = [d for d in ("tasks", "dialogues", "apis") if not (root / d).is_dir()]
        if missing:
            raise DatasetError(
                f"{root} is not a STAR folder: missing {', '.join(missing)}/. Pass the folder that holds "
                "tasks/, apis/ and dialogues/ (e.g. ../shared/star).", root)
        cls._path = root.resolve()
        _read_json.cache_clear()
        cls._graphs.cache_clear()

    @classmethod
    def path(cls) -> Path:
        """The folder set with `set_path`."""
        if cls._path is None:
            raise DatasetError("No STAR path set. Call STAR.set_path('<folder with tasks/ and dialogues/>') first.")
        return cls._path

    # --- tasks, APIs -----------------------------------------------------------------------------
    @classmethod
    def tasks(cls) -> list[str]:
        """Names of the tasks (``doctor_followup``, ...)."""
        return sorted(p.name for p in (cls.path() / "tasks").iterdir() if (p / f"{p.name}.json").is_file())

    @classmethod
    def get_task(cls, task: str) -> dict[str, Any]:
        """A task file's contents: ``task`` (function name), ``replies`` and ``graph``."""
        path = cls.path() / "tasks" / task / f"{task}.json"
        if not path.is_file():
            raise DatasetError(f"Unknown STAR task {task!r}. Known tasks: {', '.join(cls.tasks())}.", path)
        return _read_json(path)

    @classmethod
    def get_api(cls, task: str) -> dict[str, Any]:
        """The API the task's query node calls (inputs, outputs, required fields, db name)."""
        cls.get_task(task)
        path = cls.path() / "apis" / "apis" / f"{task}.json"
        if not path.is_file():
            raise DatasetError(f"Task {task!r} has no API file at {path}.", path)
        return _read_json(path)

    @classmethod
    def get_db_schema(cls, db: str) -> list[dict[str, Any]] | None:
        """The field specs of a STAR database (None for ``"null"``: the API has no db)."""
        if db in ("null", "", None):
            return None
        path = cls.path() / "apis" / "dbs" / f"{db}.json"
        if not path.is_file():
            raise DatasetError(f"STAR db {db!r} not found at {path}.", path)
        return _read_json(path)

    @classmethod
    def templates(cls) -> dict[str, str]:
        """Every task's template replies merged (first task wins), for labels a task file lacks."""
        merged: dict[str, str] = {}
        for task in cls.tasks():
            for label, text in cls.get_task(task)["replies"].items():
                merged.setdefault(label, text)
        return merged

    @classmethod
    def get_task_graph(cls, task: str, mined: bool = True, min_count: int = 1) -> nx.DiGraph:
        """The reconstructed policy graph of ``task`` (a copy: change it freely).

        Dict + naming rules + the transitions the folder's dialogues took at least ``min_count`` times
        (``mined=False``: dict + rules only). All tasks are mined together, so a multi-task dialogue's
        actions count for the task they belong to.
        """
        cls.get_task(task)
        return cls._graphs(mined, min_count)[task].copy()

    @classmethod
    @lru_cache(maxsize=8)
    def _graphs(cls, mined: bool, min_count: int) -> dict[str, nx.DiGraph]:
        from roleplay.datasets.star.graphs import add_mined, base_graph, mine_transitions

        graphs = {task: base_graph(task, cls.get_task(task)) for task in cls.tasks()}
        if mined:
            counts = mine_transitions(graphs, cls.iter_dialogs(progress=False))
            add_mined(graphs, counts, min_count, cls.templates())
        return graphs

    # --- dialogues -------------------------------------------------------------------------------
    @classmethod
    def dialog_ids(cls) -> list[int]:
        """Ids of the dialogues in the folder, ascending."""
        return sorted(int(p.stem) for p in (cls.path() / "dialogues").glob("*.json") if p.stem.isdigit())

    @classmethod
    def _raw(cls, dialog_id: int | str) -> dict[str, Any]:
        path = cls.path() / "dialogues" / f"{dialog_id}.json"
        if not path.is_file():
            raise DatasetError(f"No STAR dialogue with id {dialog_id!r} in {path.parent}. "
                               "List the ids with STAR.dialog_ids().", path)
        return _read_json(path)

    @classmethod
    def get_dialog(cls, dialog_id: int | str) -> Dialog:
        """A real dialogue as a `Dialog` (User/System turns, action labels, queries as events)."""
        raw = cls._raw(dialog_id)
        return _to_dialog(raw, {t: cls.get_task(t)["replies"] for t in _tasks_of(raw["Scenario"])})

    @classmethod
    def iter_dialogs(cls, progress: bool = True, **filters: Any):
        """Yield the dialogues matching ``filters`` (see `get_dialogs`), reading lazily."""
        for dialog_id in tqdm(cls.dialog_ids(), desc="Reading STAR", unit="dialog", disable=not progress):
            if _matches(cls._raw(dialog_id)["Scenario"], **filters):
                yield cls.get_dialog(dialog_id)

    @classmethod
    def get_dialogs(
        cls,
        domain: str | None = None,
        task_name: str | None = None,
        happy: bool | None = None,
        multitask: bool | None = None,
    ) -> list[Dialog]:
        """Dialogues filtered by domain, wizard task, happy path and multi-task (None: any), with a bar."""
        if task_name is not None:
            cls.get_task(task_name)
        return list(cls.iter_dialogs(domain=domain, task_name=task_name, happy=happy, multitask=multitask))

    @classmethod
    def get_dialog_scenario(cls, dialog_id: int | str) -> dict[str, Any]:
        """The scenario of a dialogue: domains, happy, multi-task, user and wizard instructions, tasks."""
        return dict(cls._raw(dialog_id)["Scenario"])

    @classmethod
    def get_scenario_description(cls, scenario: dict[str, Any]) -> str:
        """A JSON description of a scenario for prompting.

        It holds the roles, the user and system instructions, and per task its reconstructed graph (DOT)
        and the example reply of each node.
        """
        tasks = _tasks_of(scenario)
        if not tasks:
            raise DatasetError("The scenario lists no WizardCapabilities; pass a scenario from STAR.")
        description = {
            "users": [USER, SYSTEM],
            "user_instructions": scenario.get("UserTask", ""),
            "system_instructions": scenario.get("WizardTask", ""),
            "happy": scenario.get("Happy", True),
            "multitask": scenario.get("MultiTask", False),
            "tasks": {
                task: {"flowchart": to_dot(cls.get_task_graph(task), compact=True),
                       "responses": cls.get_task(task)["replies"]}
                for task in tasks
            },
        }
        return json.dumps(description, indent=2)

    @classmethod
    def get_dialog_scenario_description(cls, dialog_id: int | str) -> tuple[dict[str, Any], str]:
        """(scenario, description) of a dialogue."""
        scenario = cls.get_dialog_scenario(dialog_id)
        return scenario, cls.get_scenario_description(scenario)

    @classmethod
    def get_user_persona_for_scenario(cls, scenario: dict[str, Any]) -> Persona:
        """The user: named as in the instructions, with the task and how to behave (happy or not)."""
        happy = scenario.get("Happy", True)
        multi = scenario.get("MultiTask", False)
        rules = ("Cooperate: answer the assistant's questions directly and accept what it offers."
                 if happy else
                 "You may change your mind, give incomplete or contradictory information, or ask for things "
                 "the assistant cannot do, as the instructions say.")
        if multi:
            rules += " You have more than one request: after the first is handled, ask about the next."
        return Persona(
            name=user_name(scenario) or "User",
            role="user talking to a virtual assistant",
            circumstances=scenario.get("UserTask", ""),
            rules=rules + " Speak in short turns. Say goodbye when all your requests are handled.",
        )

    @classmethod
    def get_system_persona_for_scenario(cls, scenario: dict[str, Any]) -> Persona:
        """The system: a virtual assistant for the scenario's tasks, following their flowcharts."""
        tasks = _tasks_of(scenario)
        functions = ", ".join(cls.get_task(t)["task"].replace("_", " ") for t in tasks)
        rules = "Follow the task flowchart: take one action per turn and use its example reply as a guide."
        if len(tasks) > 1:
            rules += " You can handle several tasks; switch to the task the user asks about."
        if not scenario.get("Happy", True):
            rules += " The user may be difficult: stay polite, ask again, and say what you cannot do."
        return Persona(
            name=SYSTEM,
            role="virtual assistant",
            background=f"You can help with: {functions}.",
            circumstances=scenario.get("WizardTask", ""),
            rules=rules,
        )


@cache
def _read_json(path: Path) -> Any:
    """A JSON file's contents, read once per path (treat the result as read-only)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path} is not valid JSON ({err.msg}, line {err.lineno}); is the copy damaged?",
                           path) from err


def _tasks_of(scenario: Any) -> list[str]:
    if not isinstance(scenario, dict):
        return []
    return [c["Task"] for c in scenario.get("WizardCapabilities", []) if "Task" in c]


def user_name(scenario: dict[str, Any]) -> str | None:
    """The user's name from STAR instructions such as "You (Alexis) had an appointment..."."""
    match = re.search(r"\(([A-Z][\w .'-]{0,40})\)", scenario.get("UserTask", ""))
    return match.group(1).strip() if match else None


def _matches(scenario: dict[str, Any], domain: str | None = None, task_name: str | None = None,
             happy: bool | None = None, multitask: bool | None = None) -> bool:
    return ((domain is None or domain in scenario.get("Domains", []))
            and (task_name is None or task_name in _tasks_of(scenario))
            and (happy is None or scenario.get("Happy") == happy)
            and (multitask is None or scenario.get("MultiTask") == multitask))


def query_node(replies: dict[str, str], constraints: list[dict[str, Any]]) -> str:
    """Which query node a wizard query is: ``query_check``/``query_book`` by its RequestType, else ``query``."""
    request = next((str(v).strip('"').lower() for c in constraints for k, v in c.items() if k == "RequestType"), "")
    if request and f"query_{request}" in replies:
        return f"query_{request}"
    if "query" in replies:
        return "query"
    return next((r for r in replies if r.startswith("query") and r not in ("query_success", "query_failure")),
                "query")


def _to_dialog(raw: dict[str, Any], replies: dict[str, dict[str, str]]) -> Dialog:
    dialog = Dialog(id=raw["DialogueID"], scenario=raw["Scenario"], model="human (STAR)",
                    metadata={"completion_level": raw.get("CompletionLevel")})
    query: Event | None = None
    for event in raw["Events"]:
        agent, action = event.get("Agent"), event.get("Action")
        if agent == "User" and action == "utter":
            dialog.turns.append(Turn(USER, event.get("Text", "")))
        elif agent == "Wizard" and action == "pick_suggestion":
            label = event.get("ActionLabel")
            dialog.turns.append(Turn(SYSTEM, event.get("Text", ""), action=None if label in _NO_LABEL else label))
        elif agent == "Wizard" and action == "utter":
            dialog.turns.append(Turn(SYSTEM, event.get("Text", "")))
        elif agent == "Wizard" and action == "query":
            task = event.get("APIName", "")
            constraints = event.get("Constraints", [])
            query = Event(type="query", turn=len(dialog.turns), data={
                "task": task, "action": query_node(replies.get(task, {}), constraints), "constraints": constraints})
            dialog.events.append(query)
        elif agent == "KnowledgeBase" and action == "return_item" and query is not None:
            item = event.get("Item")
            query.data.update(item=item, total=event.get("TotalItems"), found=bool(item))
        elif agent == "Wizard" and action == "select_task":
            dialog.events.append(Event(type="select_task", turn=len(dialog.turns), data={"task": event.get("Task")}))
    return dialog
