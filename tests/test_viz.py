import base64
import gzip
import itertools
import json
import re
import shutil
import warnings
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from roleplay import Dialog, Turn
from roleplay.cli import cli
from roleplay.dialog import Event, StopReason
from roleplay.errors import ConfigError, DatasetError
from roleplay.evaluation import evaluate_dialog, load_dialogs, summarize
from roleplay.policy.graph import PolicyGraphWarning, read_dot
from roleplay.viz import draw_policy, policy_heatmap
from roleplay.viz._layout import layered_layout
from roleplay.viz._legend import heat_colour
from roleplay.viz._paths import visits
from roleplay.viz._tables import number_text
from roleplay.viz.flowchart import ILLEGAL_COLOUR, PATH_COLOUR
from roleplay.viz.report import graphs_for, load_graphs, make_report, text_quality, write_report

ROOT = Path(__file__).resolve().parent.parent
INTAKE_DOT = ROOT / "scenarios" / "doctor_intake.dot"
STAR_DOTS = sorted((ROOT / "scenarios" / "star").glob("*.dot"))
SVG = "{http://www.w3.org/2000/svg}"
ENGINES = ["networkx", *(["dot"] if shutil.which("dot") else [])]


@pytest.fixture
def intake():
    return read_dot(INTAKE_DOT)


def parse(picture) -> ET.Element:
    return ET.fromstring(picture._repr_svg_())


def badges(root: ET.Element) -> dict[str, str]:
    """Badge text -> its colour, from the overlay group."""
    overlay = root.find(f".//{SVG}g[@class='rp-overlay']")
    rects = overlay.findall(f"{SVG}rect")
    texts = overlay.findall(f"{SVG}text")
    return {t.text: r.get("fill") for r, t in zip(rects, texts, strict=True)}


def intake_dialog(actions_and_user, id=0, stop=StopReason.END_SIGNAL, **meta) -> Dialog:
    turns = [Turn("Doctor", f"doctor says {a}", action=a) if a else Turn("Patient", said)
             for a, said in actions_and_user]
    return Dialog(id=id, turns=turns, stop_reason=stop, metadata={"policy": {"tasks": ["doctor_intake"]}, **meta})


@pytest.fixture(scope="module")
def all_graphs():
    """The intake graph and the 24 STAR graphs (read once: pydot takes a while)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyGraphWarning)
        return {dot.name: read_dot(dot) for dot in [INTAKE_DOT, *STAR_DOTS]}


@pytest.mark.parametrize("engine", ENGINES)
def test_draw_policy_draws_every_star_graph_and_the_intake_graph(engine, all_graphs):
    assert len(all_graphs) == 25
    for name, graph in all_graphs.items():
        root = parse(draw_policy(graph, engine=engine))
        drawn = {g.get("data-node") for g in root.iter(f"{SVG}g") if g.get("data-node")}
        assert drawn == set(graph), name
        assert root.find(f".//{SVG}g[@class='rp-legend']") is not None


def test_networkx_layout_is_layered_top_down_from_the_start(intake):
    layout = layered_layout(intake, "networkx")
    y = {node: box.y for node, box in layout.nodes.items()}
    chain = ["greet", "ask_complaint", "ask_duration", "ask_severity", "ask_red_flags", "yes", "refer_urgent",
             "anything_else", "goodbye"]
    assert all(y[a] < y[b] for a, b in itertools.pairwise(chain))
    assert y["clarify"] == y["greet"] and y["no"] == y["yes"]
    assert set(layout.edges) == set(intake.edges)


def test_layout_uses_networkx_when_dot_is_not_installed(intake, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert layered_layout(intake).engine == "networkx"


def test_path_is_numbered_in_order_and_illegal_steps_are_red(intake):
    root = parse(draw_policy(intake, ["greet", "ask_complaint", "goodbye", "greet"], engine="networkx"))
    assert badges(root) == {"1,4": ILLEGAL_COLOUR, "2": PATH_COLOUR, "3": ILLEGAL_COLOUR}
    overlay = root.find(f".//{SVG}g[@class='rp-overlay']")
    lines = [(p.get("stroke"), p.get("stroke-dasharray")) for p in overlay.findall(f"{SVG}path")]
    assert lines == [(PATH_COLOUR, None), (ILLEGAL_COLOUR, "6,4"), (ILLEGAL_COLOUR, "6,4")]
    assert root.find(f"{SVG}text").text == "doctor_intake: path of 4 steps"
    off = parse(draw_policy(intake, ["greet", "Hello there"], engine="networkx"))
    assert off.find(f"{SVG}text").text == "doctor_intake: path of 1 steps (and 1 actions the graph does not have)"
    assert badges(off) == {"1": PATH_COLOUR}
    titled = parse(draw_policy(intake, ["Hello there"], title="mine", engine="networkx"))
    assert titled.find(f"{SVG}text").text == "mine (and 1 actions the graph does not have)"


def test_path_of_a_dialog_follows_the_answer_branch(intake):
    dialog = intake_dialog([("greet", ""), ("", "hi"), ("ask_complaint", ""), ("", "headache"),
                            ("ask_severity", ""), ("", "eight"), ("ask_red_flags", ""), ("", "Yes, a stiff neck."),
                            ("refer_urgent", "")])
    root = parse(draw_policy(intake, dialog, engine="networkx"))
    assert set(badges(root).values()) == {PATH_COLOUR}
    overlay = root.find(f".//{SVG}g[@class='rp-overlay']")
    layout = layered_layout(intake, "networkx")
    drawn = {p.get("d") for p in overlay.findall(f"{SVG}path")}
    assert {layout.edges["ask_red_flags", "yes"], layout.edges["yes", "refer_urgent"]} <= drawn
    assert layout.edges["ask_red_flags", "no"] not in drawn


def test_heatmap_counts_visits_and_marks_violations(intake):
    good = ["greet", "ask_complaint", "ask_severity", "ask_red_flags", "give_advice"]
    paths = [good, good, ["greet", "goodbye"], ["greet", "ask_complaint", "Sure, free text"]]
    counts = visits(intake, paths)
    assert counts.dialogs == 4 and counts.nodes["greet"] == 4 and counts.nodes["ask_complaint"] == 3
    assert counts.nodes["no"] == 2  # the answer node between ask_red_flags and give_advice
    assert counts.edges["greet", "ask_complaint"] == 3
    assert counts.violations == {"goodbye": 1, "ask_complaint": 1}  # off the graph: where it left from
    root = parse(policy_heatmap(intake, paths, engine="networkx"))
    greet = root.find(f".//{SVG}g[@data-node='greet']/{SVG}rect")
    assert greet.get("fill") == heat_colour(1.0)
    assert badges(root) == {"✗1": ILLEGAL_COLOUR}
    assert len(root.findall(f".//{SVG}g[@class='rp-overlay']/{SVG}rect")) == 2  # at goodbye and ask_complaint


def test_picture_saves_svg_only(intake, tmp_path):
    picture = draw_policy(intake, engine="networkx")
    assert picture.save(tmp_path / "g.svg").read_text().startswith("<svg")
    with pytest.raises(ConfigError, match=r"\.svg"):
        picture.save(tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_repr_html_escapes_text_and_shows_actions_events_and_stop_reason():
    dialog = Dialog(id=7, turns=[Turn("Doctor", "Hi <script>alert(1)</script>", action="greet",
                                      metadata={"legal": True}),
                                 Turn("Patient", "Tom & Jerry"),
                                 Turn("Doctor", "Bye", action="goodbye", metadata={"legal": False})],
                    events=[Event(type="query", turn=2, data={"action": "query", "found": False})],
                    stop_reason=StopReason.OFF_POLICY, metadata={"completion_tokens": 9})
    page = dialog._repr_html_()
    assert "<script>alert" not in page and "Hi &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Tom &amp; Jerry" in page
    assert page.count('class="rp-turn"') == 3 and "✓ legal" in page and "✗ illegal" in page
    assert re.search(r"<details class=\"rp-event\"><summary>query: query → nothing found</summary>", page)
    assert page.index("rp-event") < page.index("Bye")  # the query happened before the third turn
    assert "off_policy" in page and "tokens <b>9</b>" in page


def test_show_prints_the_terminal_view_and_reports_a_missing_file(tmp_path):
    path = intake_dialog([("greet", ""), ("", "hello [there]"), ("goodbye", "")], id=3).to_file(tmp_path / "d.json")
    shown = CliRunner().invoke(cli, ["show", str(path)])
    assert shown.exit_code == 0
    assert "[Doctor] doctor says greet  ‹greet›" in shown.output and "[Patient] hello [there]" in shown.output
    assert "Stop reason: end_signal" in shown.output
    missing = CliRunner().invoke(cli, ["show", str(tmp_path / "gone.json")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_graph_command_draws_svg_and_rejects_other_formats(tmp_path):
    drawn = CliRunner().invoke(cli, ["graph", str(INTAKE_DOT), "--svg", str(tmp_path / "intake.svg")])
    assert drawn.exit_code == 0 and (tmp_path / "intake.svg").read_text().startswith("<svg")
    wrong = CliRunner().invoke(cli, ["graph", str(INTAKE_DOT), "--svg", str(tmp_path / "intake.png")])
    assert wrong.exit_code == 1 and "only .svg" in wrong.output


def test_load_dialogs_reads_batch_star_and_plain_folders(tmp_path):
    dialog = Dialog(turns=[Turn("A", "hi")])
    for index in (10, 2):
        dialog.model_copy(update={"id": index}).to_file(tmp_path / "batch" / "dialogs" / f"{index}.json")
    (tmp_path / "batch" / "index.jsonl").write_text("")
    dialog.to_file(tmp_path / "star" / "json" / "5.json")
    dialog.to_file(tmp_path / "plain" / "run_1.json")
    (tmp_path / "plain" / "evaluation.json").write_text(json.dumps({"summary": []}))
    assert [d.id for d in load_dialogs(tmp_path / "batch")] == [2, 10]
    assert len(load_dialogs(tmp_path / "star")) == len(load_dialogs(tmp_path / "plain")) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="No dialogue JSON"):
        load_dialogs(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not a folder"):
        load_dialogs(tmp_path / "missing")


def test_graphs_for_uses_the_dialogues_tasks(intake):
    graphs = {"doctor_intake": intake}
    assert graphs_for(intake_dialog([("greet", "")]), graphs) == graphs
    assert graphs_for(Dialog(turns=[Turn("A", "hi")]), graphs) == {}  # no action: nothing to judge
    other = Dialog(turns=[Turn("S", "hi", action="hello")], metadata={"policy": {"tasks": ["weather"]}})
    assert graphs_for(other, graphs) == {}


def test_report_text_quality_is_the_evaluate_numbers():
    from roleplay.evaluation import text_report

    dialogs = [Dialog(turns=[Turn("A", "a b c"), Turn("B", "a b c"), Turn("A", "d e")])]
    quality = text_quality(dialogs)
    overall = text_report(dialogs)["summary"][-1]
    assert quality == {k: overall[k] for k in quality}
    assert quality["distinct_1"] == round(5 / 8, 4) and quality["words_per_turn"] == round(8 / 3, 4)


def embedded_data(page: str) -> dict:
    found = re.search(r'<script id="rp-data" type="application/octet-stream">(.*?)</script>', page, re.S)
    return json.loads(gzip.decompress(base64.b64decode(found.group(1))))


def test_report_has_evaluate_numbers_every_dialogue_and_nothing_external(intake):
    dialogs = [intake_dialog([("greet", ""), ("", "hi"), ("ask_complaint", "")], id=0),
               intake_dialog([("greet", ""), ("", "</script><script>alert(1)</script>"), ("goodbye", ""),
                              ("Sure, a free-text action (prompt-only)", "")], id=1,
                             stop=StopReason.MAX_TURNS, variant={"temperature": 0.9})]
    page = make_report(dialogs, {"doctor_intake": intake})
    expected = summarize([evaluate_dialog(d, {"doctor_intake": intake}) for d in dialogs])
    shown = number_text(expected[-1]["legal_rate"])  # rounded as evaluate prints it
    assert f'<td class="rp-num">{shown}</td>' in page and "<td>doctor_intake</td>" in page
    assert "</script><script>alert" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    data = embedded_data(page)
    assert [d["id"] for d in data["dialogs"]] == ["0", "1"] and len(data["graphs"]) == 1
    second = data["dialogs"][1]
    assert second["violations"] == 2 and second["stop"] == "max_turns" and second["variant"] == "temperature=0.9"
    assert "alert(1)" in second["text"] and second["paths"][0][0] == 0 and "<rect" in second["paths"][0][1]
    assert "visits over 2 dialogues" in page


def test_report_without_a_graph_says_how_to_get_one():
    page = make_report([Dialog(id=1, turns=[Turn("A", "hi"), Turn("B", "hello")])], {})
    assert "pass --graph FILE.dot" in page and embedded_data(page)["dialogs"][0]["paths"] == []


def test_report_command_writes_one_file_and_rejects_bad_input(tmp_path):
    intake_dialog([("greet", "")]).to_file(tmp_path / "run" / "dialogs" / "0.json")
    made = CliRunner().invoke(cli, ["report", str(tmp_path / "run"), "--graph", str(INTAKE_DOT)])
    assert made.exit_code == 0 and (tmp_path / "run" / "report.html").is_file()
    runner = CliRunner()
    wrong_suffix = runner.invoke(cli, ["report", str(tmp_path / "run"), "--out", str(tmp_path / "r.txt")])
    assert wrong_suffix.exit_code == 1 and "does not end in .html" in wrong_suffix.output
    no_graph = runner.invoke(cli, ["report", str(tmp_path / "run"), "--graph", str(tmp_path / "none.dot"),
                                   "--out", str(tmp_path / "r.html")])
    assert no_graph.exit_code == 1 and "No such DOT file" in no_graph.output
    (tmp_path / "dots").mkdir()
    empty_graphs = runner.invoke(cli, ["report", str(tmp_path / "run"), "--graph", str(tmp_path / "dots"),
                                       "--out", str(tmp_path / "r.html")])
    assert empty_graphs.exit_code == 1 and "no .dot files" in empty_graphs.output
    missing = runner.invoke(cli, ["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.html")])
    assert missing.exit_code == 1 and "is not a folder" in missing.output
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.txt").exists()


def test_write_report_finds_a_batch_scenario_graph(tmp_path):
    intake_dialog([("greet", ""), ("", "hi"), ("goodbye", "")]).to_file(tmp_path / "run" / "dialogs" / "0.json")
    (tmp_path / "run" / "batch.json").write_text(json.dumps({"scenario": str(ROOT / "scenarios" /
                                                                              "doctor_intake.yaml")}))
    page = write_report(tmp_path / "run").read_text()
    assert embedded_data(page)["dialogs"][0]["violations"] == 1


def test_load_graphs_reads_only_the_wanted_files_of_a_folder():
    assert list(load_graphs([ROOT / "scenarios" / "star"], ["weather", "not_a_task"])) == ["weather"]
    assert list(load_graphs([INTAKE_DOT], ["weather"])) == ["doctor_intake"]  # a file given is always read
