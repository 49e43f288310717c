"""Text-quality evaluation: distinct-n on real word tokens, per-dialogue problems, per-variant rows, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay.cli import cli
from roleplay.dialog import Dialog, StopReason, Turn
from roleplay.evaluation import distinct_n, text_report
from roleplay.evaluation.text import text_metrics
from roleplay.evaluation.topic import mentions, topic_start, topic_terms
from roleplay.sentences import sentences

ROOT = Path(__file__).resolve().parent.parent
PERSONAS = {"Doctor": {"name": "Dr. Garcia", "role": "family doctor"}, "Patient": {"name": "Ana", "role": "patient"}}
LOOP = "I'm so glad you're here, I just love it and my family does too."


def degenerate() -> Dialog:
    return Dialog(id=1, personas=PERSONAS, stop_reason=StopReason.MAX_TURNS, turns=[
        Turn("Doctor", "Good morning, what brings you in today?", metadata={"seconds": 1.0}),
        Turn("Patient", LOOP, metadata={"seconds": 2.0, "guard": {"resamples": 3, "salvaged": {"dropped": ["X"]}}}),
        Turn("Doctor", LOOP, metadata={"seconds": 1.0}),
        Turn("Patient", "Hello, I am Dr. Garcia and I", metadata={"seconds": 1.0}),
    ])


def healthy(variant: str) -> Dialog:
    return Dialog(id=variant, personas=PERSONAS, metadata={"variant": {"temperature": variant}},
                  stop_reason=StopReason.END_SIGNAL, turns=[
                      Turn("Doctor", "Good morning, what brings you in today?"),
                      Turn("Patient", "I have had a headache for three days."),
                      Turn("Doctor", "Rest, drink water, and come back if it gets worse."),
                      Turn("Patient", "Thank you, goodbye!")])


def test_distinct_n_counts_words_not_space_separated_chunks():
    assert distinct_n(["Hello, hello. HELLO!"], 1) == round(1 / 3, 4)
    assert distinct_n(["a b a b"], 2) == round(2 / 3, 4)
    assert distinct_n(["one", "one"], 2) is None and distinct_n([], 1) is None


def test_a_short_turn_said_again_word_for_word_is_measured_as_a_copy():
    glad = "I'm so glad you're here."
    dialog = Dialog(id=2, personas=PERSONAS, turns=[Turn("Doctor", glad), Turn("Patient", "Good morning."),
                                                    Turn("Doctor", glad), Turn("Patient", "Good morning!")])
    assert [(p["turn"], p["problem"]) for p in text_metrics(dialog).problems] == [(2, "near_copy")]  # a formula may


def test_text_metrics_finds_each_problem():
    m = text_metrics(degenerate())
    kinds = {(p["turn"], p["problem"]) for p in m.problems}
    assert kinds == {(2, "near_copy"), (3, "role_confusion"), (3, "cut_off")}
    assert (m.near_copies, m.role_confusions, m.cut_offs, m.resamples, m.salvaged) == (1, 1, 1, 3, 1)
    assert m.seconds_per_turn == 1.25 and m.stop_reason == "max_turns"
    clean = text_metrics(healthy("0.5"))
    assert (clean.near_copies, clean.role_confusions, clean.cut_offs) == (0, 0, 0)
    assert clean.distinct_2 is not None and clean.distinct_2 > 0.9


def test_report_has_a_row_per_variant_and_all():
    report = text_report([healthy("0.5"), healthy("0.9"), degenerate()])
    rows = {row["variant"]: row for row in report["summary"]}
    assert list(rows) == ["-", "temperature=0.5", "temperature=0.9", "ALL"]
    assert rows["ALL"]["dialogs"] == 3 and rows["ALL"]["turns"] == 12
    assert rows["ALL"]["near_copy_rate"] == round(1 / 12, 4) and rows["-"]["cut_off_rate"] == 0.25
    assert rows["ALL"]["stop_reasons"] == "end_signal:2 max_turns:1"
    assert rows["ALL"]["distinct_2_min"] == text_metrics(degenerate()).distinct_2
    assert len(report["dialogs"]) == 3


def test_evaluate_without_a_graph_reports_text_quality(tmp_path):
    folder = tmp_path / "runs"
    for index, dialog in enumerate([healthy("0.5"), degenerate()]):
        dialog.to_file(folder / f"{index}.json")
    result = CliRunner().invoke(cli, ["evaluate", str(folder), "--out", str(tmp_path / "report")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "near_copy_rate" in result.output and "ALL" in result.output
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["summary"][-1]["dialogs"] == 2
    assert (tmp_path / "report.csv").read_text().startswith("variant,arm,dialogs,turns,near_copy_rate")


def test_evaluate_with_a_graph_adds_the_adherence_table(tmp_path):
    folder = tmp_path / "runs"
    healthy("0.5").to_file(folder / "0.json")
    result = CliRunner().invoke(cli, ["evaluate", str(folder), "--graph", str(ROOT / "scenarios" / "doctor_intake.dot"),
                                      "--out",
                                      str(tmp_path / "r")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r.json").read_text())
    assert "legal_rate" in saved["summary"][0] and saved["text"]["summary"][-1]["dialogs"] == 1


def test_evaluate_with_both_sources_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path), "--graph", "g.dot", "--star-path", "s"])
    assert result.exit_code != 0 and "not both" in result.output


@pytest.mark.parametrize("text, expected", [
    ("Thank you for sharing it with me. I wish you well.", ["Thank you for sharing it with me.", "I wish you well."]),
    ("That is ok. We can start.", ["That is ok.", "We can start."]),
    ("Room No. 5, please. No. I do not smoke.", ["Room No. 5, please.", "No.", "I do not smoke."]),
    ("Dr. Garcia said 3.5 mg, e.g. one tablet. Fine.", ["Dr. Garcia said 3.5 mg, e.g. one tablet.", "Fine."]),
])
def test_everyday_words_the_segmenter_takes_for_abbreviations_still_end_a_sentence(text, expected):
    assert sentences(text) == expected


def consultation(patient_opens: str, topic: list[str] | None = None) -> Dialog:
    scenario = {"name": "doctor_patient", "description": "A patient sees a family doctor about a headache.",
                **({"topic": topic} if topic else {})}
    return Dialog(id=3, personas=PERSONAS, scenario=scenario, turns=[
        Turn("Doctor", "Good morning, what brings you in today?"),
        Turn("Patient", patient_opens),
        Turn("Doctor", "How long has it been hurting?"),
        Turn("Patient", "It is lovely weather for a walk."),
        Turn("Doctor", "Do you sleep well?"),
        Turn("Patient", "My headaches are worse at night."),
    ])


def test_topic_words_are_the_scenarios_list_else_its_description_without_the_speakers():
    assert topic_terms(consultation("Hi.", topic=["Headache", "hurt"])) == ["headache", "hurt"]
    assert topic_terms(consultation("Hi.")) == ["sees", "headache"]  # "patient", "family", "doctor" name speakers
    assert topic_terms(Dialog(turns=[Turn("A", "hi")])) == []


@pytest.mark.parametrize("text, expected", [
    ("My headaches are worse at night.", True),
    ("It has been hurting since Monday.", True),
    ("Where does it hurt?", True),
    ("I sleep in a hurtle of blankets.", False),
    ("Ahead of us is a long day.", False),
])
def test_a_topic_word_matches_whole_words_with_a_short_ending(text, expected):
    assert mentions(text, ["headache", "hurt", "head"]) is expected


def test_topic_start_asks_each_speaker_for_a_topic_word_in_its_first_turns():
    topic = ["headache", "hurt"]
    stated = consultation("I have had a headache for three days.", topic)
    late = consultation("I'm so glad to meet you, it is a pleasure.", topic)  # the headache only in its third turn
    assert topic_start(stated, topic) == {"Doctor": True, "Patient": True}
    assert topic_start(late, topic) == {"Doctor": True, "Patient": False}
    assert topic_start(late, topic, first_turns=3) == {"Doctor": True, "Patient": True}
    row = text_report([stated, late])["summary"][-1]
    assert row["topic_start_rate"] == 0.75  # 3 of 4 speakers started on topic
    assert row["on_topic_rate"] == round(5 / 12, 4)  # "hurting" twice, a headache three times
