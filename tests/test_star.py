"""The STAR loader and graph mining on fixtures in STAR's format; integration on ../shared/star if present."""

import json
from pathlib import Path

import pytest

from roleplay import Dialog
from roleplay.datasets.star.graphs import acceptance, add_mined, base_graph, mine_transitions
from roleplay.datasets.star.loader import STAR, user_name
from roleplay.errors import DatasetError
from roleplay.personas import Persona
from roleplay.policy.graph import mean_out_degree

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini"
REAL_STAR = Path(__file__).resolve().parent.parent.parent / "shared" / "star"


@pytest.fixture
def star():
    STAR.set_path(FIXTURE)
    yield STAR
    STAR._path = None


def test_set_path_errors(tmp_path):
    with pytest.raises(DatasetError, match="is not a STAR folder: missing tasks, dialogues, apis"):
        STAR.set_path(tmp_path)


def test_no_path_set():
    STAR._path = None
    with pytest.raises(DatasetError, match=r"No STAR path set. Call STAR.set_path"):
        STAR.get_dialog(1)


def test_get_dialog(star):
    dialog = star.get_dialog(1)
    assert isinstance(dialog, Dialog) and dialog.id == 1
    assert dialog.speakers == ["User", "System"]
    assert [t.action for t in dialog.turns if t.speaker == "System"] == [
        "hello", "ask_name", "mini_ask_confirm_booking", "mini_booking_succeeded", "goodbye_1"]
    queries = [e.data for e in dialog.events if e.type == "query"]
    assert [(q["action"], q["found"]) for q in queries] == [("query_check", True), ("query_book", True)]
    assert dialog.scenario["Happy"] is True


def test_custom_label_and_free_wizard_text_carry_no_action(star):
    dialog = star.get_dialog(2)
    system = [t for t in dialog.turns if t.speaker == "System"]
    assert [t.action for t in system] == ["mini_ask_topic", "out_of_scope", "mini_inform_nothing_found", None, None,
                                          "mini_bye"]
    assert [e.data["found"] for e in dialog.events if e.type == "query"] == [False]


def test_unknown_id_and_task(star):
    with pytest.raises(DatasetError, match="No STAR dialogue with id 99"):
        star.get_dialog(99)
    with pytest.raises(DatasetError, match="Unknown STAR task 'nope'. Known tasks: mini_book, mini_info"):
        star.get_task_graph("nope")


def test_get_dialogs_filters(star):
    assert [d.id for d in star.get_dialogs()] == [1, 2, 3]
    assert [d.id for d in star.get_dialogs(happy=True)] == [1, 3]
    assert [d.id for d in star.get_dialogs(task_name="mini_book", multitask=False)] == [1]
    assert [d.id for d in star.get_dialogs(domain="nowhere")] == []


def test_scenario_description_has_graphs_and_replies(star):
    scenario, description = star.get_dialog_scenario_description(3)
    data = json.loads(description)
    assert data["user_instructions"].startswith("You (Kim)")
    assert set(data["tasks"]) == {"mini_info", "mini_book"}
    assert "digraph" in data["tasks"]["mini_book"]["flowchart"]
    assert data["tasks"]["mini_info"]["responses"]["mini_bye"] == "Goodbye."
    assert data["multitask"] is True


def test_personas_reflect_the_scenario(star):
    happy = star.get_dialog_scenario(1)
    user = star.get_user_persona_for_scenario(happy)
    assert isinstance(user, Persona) and user.name == "Robin"
    assert "Cooperate" in user.rules and "Blue Room" in user.circumstances
    unhappy_multi = {**star.get_dialog_scenario(3), "Happy": False}
    assert "change your mind" in star.get_user_persona_for_scenario(unhappy_multi).rules
    assert "more than one request" in star.get_user_persona_for_scenario(unhappy_multi).rules
    system = star.get_system_persona_for_scenario(unhappy_multi)
    assert "book mini room" in system.background and "switch to the task" in system.rules
    assert user_name({"UserTask": "no name here"}) is None


def test_mining_adds_what_real_wizards_did(star):
    graphs = {t: base_graph(t, star.get_task(t)) for t in star.tasks()}
    before = acceptance(graphs, star.iter_dialogs(progress=False))
    counts = mine_transitions(graphs, star.iter_dialogs(progress=False))
    # dialogue 1 asks for the name, then checks availability at once (the room and day were volunteered)
    assert ("mini_book", "ask_name", "query_check") not in counts  # the slot-skip rule already allows it
    assert counts[("mini_info", "mini_inform_nothing_found", "mini_bye")] == 1
    add_mined(graphs, counts, min_count=1, templates=star.templates())
    after = acceptance(graphs, star.iter_dialogs(progress=False))
    assert after[1] == before[1] and after[0] > before[0]
    assert after[0] == after[1]  # mined on the same dialogues: all accepted
    assert graphs["mini_info"].edges["mini_inform_nothing_found", "mini_bye"]["source"] == "mined"


def test_task_graph_is_a_copy(star):
    graph = star.get_task_graph("mini_book")
    graph.remove_node("hello")
    assert "hello" in star.get_task_graph("mini_book")


def test_bad_json_file(tmp_path):
    root = tmp_path / "star"
    for sub in ("tasks/t", "apis/apis", "dialogues"):
        (root / sub).mkdir(parents=True)
    (root / "tasks/t/t.json").write_text("{broken")
    STAR.set_path(root)
    with pytest.raises(DatasetError, match="is not valid JSON"):
        STAR.get_task("t")
    STAR._path = None


@pytest.mark.skipif(not REAL_STAR.is_dir(), reason="../shared/star is not beside the checkout")
def test_real_star_loads_and_graphs_accept_wizard_transitions():
    STAR.set_path(REAL_STAR)
    dialogs = STAR.get_dialogs()
    assert len(dialogs) == 667
    assert sum(len(d.turns) for d in dialogs) > 9000
    graphs = {t: STAR.get_task_graph(t) for t in STAR.tasks()}
    assert len(graphs) == 24
    accepted, total = acceptance(graphs, dialogs)
    assert accepted / total >= 0.95
    assert sum(mean_out_degree(g) for g in graphs.values()) / len(graphs) <= 6
    raw = {t: base_graph(t, STAR.get_task(t)) for t in STAR.tasks()}
    raw_accepted, _ = acceptance(raw, dialogs)
    assert raw_accepted < accepted
    STAR._path = None
