"""The tables commands print: rounded numbers, and never wider than the terminal."""

import math

import pytest
from click.testing import CliRunner

from roleplay.cli import cli
from roleplay.viz._tables import number_text, render_table, sideways

METRICS = {f"metric_number_{i}": 0.123456 * i for i in range(1, 18)}


@pytest.mark.parametrize(("value", "text"), [
    (15.0625, "15.1"), (0.83333, "0.833"), (2.5, "2.50"), (6.0, "6"), (1234.56, "1,235"), (12345, "12,345"),
    (-0.0951, "-0.095"), (None, ""), (True, "True"), ("max_turns:4", "max_turns:4"), (math.nan, "nan"),
])
def test_numbers_are_rounded_for_reading(value, text):
    assert number_text(value) == text


def test_a_wide_table_of_few_rows_turns_on_its_side_and_fits():
    rows = [{"variant": "temperature=0.3", **METRICS}, {"variant": "ALL", **METRICS}]
    shown = render_table(rows, 80, "Text quality")
    lines = shown.splitlines()
    assert lines[0] == "Text quality:" and lines[1].split() == ["metric", "temperature=0.3", "ALL"]
    assert max(map(len, lines)) <= 80 and len(lines) == 2 + 1 + 17 + 1
    assert lines[3].split() == ["metric_number_1", "0.123", "0.123"]
    assert "15.0625" not in render_table([{"a": "x", "b": 15.0625}], 80) and "15.1" in render_table(
        [{"a": "x", "b": 15.0625}], 80)


def test_a_table_that_fits_keeps_its_rows_and_wraps_headers_between_words():
    rows = [{"metric": f"distinct_{i}_gap", "reference_value": 0.5, "run_value": 0.25} for i in range(3)]
    lines = render_table(rows, 60).splitlines()
    assert lines[0].split() == ["metric", "reference", "value", "run", "value"]  # one line: it fits
    narrow = render_table(rows, 36).splitlines()
    assert max(map(len, narrow)) <= 36 and narrow[1].split() == ["metric", "value", "value"]
    assert narrow[3].split() == ["distinct_0_gap", "0.500", "0.250"]  # names and numbers stay whole
    assert render_table(rows, 36, turn=False) == render_table(rows, 36)  # more rows than columns: as is


def test_empty_tables_say_so():
    assert render_table([], 80, "pass^k") == "pass^k:\n(no rows)\n"


def test_evaluate_prints_tables_that_fit(tmp_path):
    from roleplay.dialog import Dialog, Turn
    from roleplay.runs.folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    for i in range(3):
        folder.save(i, Dialog(id=i, turns=[Turn("A", f"Hello there number {i}."), Turn("B", "Fine, thanks.")]))
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "run")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    table = result.output.split("Text quality:\n")[1].split("\n\n")[0].splitlines()
    assert len(table) > 10 and max(map(len, table)) <= 80
    assert "near_copy_rate" in result.output


def test_sideways_turns_few_wide_rows_and_keeps_many():
    rows = [{"variant": "a", "x": 1, "y": 2}, {"variant": "b", "x": 3, "y": 4}]
    assert sideways(rows) == [{"metric": "x", "a": 1, "b": 3}, {"metric": "y", "a": 2, "b": 4}]
    assert sideways(rows * 2) == rows * 2 and sideways([]) == []


def test_report_rounds_numbers_and_shows_variants_as_columns(tmp_path):
    from roleplay.dialog import Dialog, Turn
    from roleplay.runs.folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    for i in range(4):
        turns = [Turn("A", "Hello there, how are you today?"), Turn("B", f"Fine, thanks, and you {i}?"),
                 Turn("A", "Well, thank you.")]
        folder.save(i, Dialog(id=i, turns=turns, metadata={"variant": {"temperature": [0.3, 0.9][i % 2]}}))
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "run"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    variants = page.split("<h2>Per variant and policy arm</h2>")[1].split("</section>")[0]
    assert "a column per variant" in variants
    assert "<th>temperature=0.3</th><th>temperature=0.9</th>" in variants
    assert '<tr><td>words_per_turn</td><td class="rp-num">4.67</td>' in variants  # 14 words / 3 turns
    assert "4.666" not in page.split("<script")[0]


def test_sideways_names_rows_that_share_their_first_value_by_the_next_one_too():
    """One variant in two policy arms: both arms keep a column (the second used to overwrite the first)."""
    rows = [{"variant": "-", "arm": "enforced", "legal": 1.0, "turns": 13, "goal": 1.0},
            {"variant": "-", "arm": "prompt_only", "legal": 0.1, "turns": 16, "goal": 0.25}]
    turned = sideways(rows)
    assert turned[1] == {"metric": "legal", "- / enforced": 1.0, "- / prompt_only": 0.1}
