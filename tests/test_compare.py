"""`roleplay compare`: distances to a reference corpus beside the reference's own split-half baseline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay.cli import cli
from roleplay.dialog import Dialog, Turn
from roleplay.errors import ConfigError
from roleplay.evaluation.compare import compare, frechet_distance
from roleplay.runs.folder import RunFolder

STAR_MINI = Path(__file__).parent / "fixtures" / "star_mini"
WORDS = "room book monday tuesday blue red please thanks time name help want".split()


def corpus(n: int, seed: int, length: int = 6, actions: tuple[str, ...] = ("hello", "ask", "book", "bye")):
    rng = random.Random(seed)
    dialogs = []
    for i in range(n):
        turns = []
        for t in range(rng.randint(2, length)):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))
            turns.append(Turn("User" if t % 2 == 0 else "Wizard", text,
                              action=rng.choice(actions) if t % 2 else None))
        dialogs.append(Dialog(id=i, turns=turns))
    return dialogs


def test_a_corpus_against_itself_is_at_its_own_baseline_and_zero_in_full():
    dialogs = corpus(60, 1)
    result = compare(dialogs, dialogs, embed_model=None, repeats=20)
    names = [row["metric"] for row in result["rows"]]
    assert names == ["action_bigram_jsd", "path_length_w1", "distinct_paths_gap", "dialog_turns_w1", "turn_words_w1",
                     "distinct_1_gap", "distinct_2_gap", "vocabulary_jsd"]
    for row in result["rows"]:
        assert row["full"] == 0.0, row
        assert row["baseline"] > 0 or row["metric"] == "distinct_paths_gap"
        assert -0.7 * row["baseline"] - 0.02 <= row["excess"] <= 0.02, row  # shared dialogues: low, never above
    assert result["notes"] == ["60 of the run's dialogues are also in the reference, so a run sample can share "
                               "dialogues with the half it is measured against: distance (and excess) read low; full "
                               "is exact."]


def test_a_sample_of_the_same_distribution_is_at_the_baseline():
    dialogs = corpus(120, 1)
    rows = compare(dialogs[:60], dialogs[60:], embed_model=None, repeats=20)["rows"]
    for row in rows:
        assert abs(row["excess"]) <= 0.5 * row["baseline"] + 0.02, row  # sampling noise only


def test_a_different_corpus_is_farther_than_the_baseline():
    reference = corpus(60, 1)
    other = corpus(60, 2, length=14, actions=("hello", "refuse", "bye"))
    rows = {row["metric"]: row for row in compare(other, reference, embed_model=None)["rows"]}
    for metric in ("action_bigram_jsd", "path_length_w1", "dialog_turns_w1"):
        assert rows[metric]["distance"] > 2 * rows[metric]["baseline"], rows[metric]
    assert rows["dialog_turns_w1"]["run_value"] > rows["dialog_turns_w1"]["reference_value"]


def test_without_actions_the_path_metrics_are_left_out_with_a_note():
    plain = [Dialog(id=d.id, turns=[Turn(t.speaker, t.text) for t in d.turns]) for d in corpus(10, 3)]
    result = compare(plain, corpus(10, 4), embed_model=None, repeats=2)
    assert "action_bigram_jsd" not in [row["metric"] for row in result["rows"]]
    assert "No policy actions" in result["notes"][0]


def test_too_small_a_reference_is_a_clear_error():
    with pytest.raises(ConfigError, match="at least 4 in the reference"):
        compare(corpus(5, 1), corpus(3, 2), embed_model=None)


def test_frechet_distance_hand_computed():
    pytest.importorskip("numpy")
    # means 1 and 2 (squared gap 1); variances 2 and 2: 2 + 2 - 2*sqrt(2*2) = 0 -> 1.0
    assert frechet_distance([[0.0], [2.0]], [[1.0], [3.0]]) == pytest.approx(1.0)
    same = [[0.0, 1.0], [1.0, 0.5], [2.0, 2.0], [0.5, 0.0]]
    assert frechet_distance(same, same) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="at least 2 vectors"):
        frechet_distance([[1.0]], same)


def save(folder: Path, dialogs: list[Dialog]) -> Path:
    with RunFolder(folder) as run:
        for dialog in dialogs:
            run.save(dialog.id, dialog)
    return folder


def test_compare_command_against_a_folder_and_a_star_folder(tmp_path):
    run = save(tmp_path / "run", corpus(12, 5))
    reference = save(tmp_path / "ref", corpus(20, 6))
    shown = CliRunner().invoke(cli, ["compare", str(run), str(reference), "--embed-model", "none", "--repeats", "3"],
                               catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "baseline" in shown.output and "vocabulary_jsd" in shown.output
    saved = json.loads((run / "comparison.json").read_text())
    assert saved["reference_dialogs"] == 20 and len(saved["rows"]) == 8
    assert (run / "comparison.csv").read_text().startswith("metric,full,distance,baseline,excess")
    assert len(RunFolder(run).load_dialogs()) == 12  # the report files are not taken for dialogues

    star = CliRunner().invoke(cli, ["compare", str(run), str(STAR_MINI), "--embed-model", "none", "--repeats", "2"])
    assert star.exit_code == 2 and "pass --task NAME" in star.output
    tasks = sorted(p.stem for p in (STAR_MINI / "tasks").iterdir())
    star = CliRunner().invoke(cli, ["compare", str(run), str(STAR_MINI), "--task", tasks[0], "--embed-model", "none",
                                    "--repeats", "2"])
    assert star.exit_code == 1 and "at least 4 in the reference" in star.output, star.output  # the fixture has 3
    wrong = CliRunner().invoke(cli, ["compare", str(run), str(reference), "--task", "x"])
    assert wrong.exit_code == 2 and "not a STAR folder" in wrong.output


@pytest.mark.embedded
def test_frechet_over_embedded_model_turn_embeddings():
    pytest.importorskip("numpy")
    dialogs = corpus(8, 7, length=4)
    result = compare(dialogs, dialogs, repeats=2)
    row = result["rows"][-1]
    assert row["metric"] == "frechet_embedding" and row["full"] == pytest.approx(0.0, abs=1e-6)
    assert row["baseline"] > 0 and "turns embedded" in result["notes"][-1]


def test_star_runs_are_sampled_on_the_references_task_mix():
    def star(n: int, task: str, turns: int, seed: int) -> list[Dialog]:
        rng = random.Random(seed)
        return [Dialog(id=f"{task}{seed}_{i}", scenario={"WizardCapabilities": [{"Task": task}]},
                       turns=[Turn("User", rng.choice(WORDS)) for _ in range(turns + rng.randint(0, 1))])
                for i in range(n)]

    reference = star(20, "short", 2, 1) + star(20, "long", 20, 2)
    run = star(20, "short", 2, 3) + star(10, "long", 20, 4)  # the same tasks, the run's mix skewed to 'short'
    row = next(r for r in compare(run, reference, embed_model=None, repeats=20)["rows"]
               if r["metric"] == "dialog_turns_w1")
    assert row["full"] > 3.0  # the whole run, with its own mix, is far
    assert abs(row["excess"]) <= 0.25 * row["baseline"], row  # on the reference's mix: at the baseline
