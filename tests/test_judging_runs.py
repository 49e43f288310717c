"""Judging run folders on the batch engine, and what `roleplay evaluate` shows from it (scores, agreement, pass^k)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.cli import cli
from roleplay.dialog import Dialog, Turn
from roleplay.evaluation.judge import Judge
from roleplay.evaluation.judging import judgement_folder, load_judgements, run_judging
from roleplay.evaluation.rubric import load_rubric
from roleplay.evaluation.scores import SuccessRule, agreement_rows, pass_k_report
from roleplay.runs.folder import RunFolder


def make_run(root: Path, n: int = 6, trials: int = 1) -> Path:
    """A run folder of ``n`` small dialogues; with trials, dialogue i is trial i % trials of task i // trials."""
    folder = RunFolder(root)
    with folder:
        for i in range(n):
            metadata = {"policy": {"completed": i % 3 != 0}}
            if trials > 1:
                metadata["trial"] = {"task": i // trials, "trial": i % trials}
            folder.save(i, Dialog(id=i, seed=i, turns=[Turn("User", f"hello {i}"), Turn("Agent", "hi")],
                                  metadata=metadata))
    return root


def by_dialogue(offset: int = 0):
    def fn(request: ScriptedRequest) -> str:
        number = int(request.last.split("hello ")[1].split()[0])
        return json.dumps({"reasoning": f"dialogue {number}", "score": 1 + (number + offset) % 5})
    return fn


def two_judges(tmp_path: Path) -> Path:
    """A run of 3 tasks x 2 trials judged on the quality rubric by two judges whose scores differ by one."""
    run = make_run(tmp_path / "run", n=6, trials=2)
    for name, offset in (("scripted:a", 0), ("scripted:b", 1)):
        run_judging(Judge(scripted_model(fn=by_dialogue(offset), name=name), load_rubric("quality")), run,
                    progress=False)
    return run


def test_judging_a_folder_writes_one_result_per_dialogue_and_resumes(tmp_path):
    run = make_run(tmp_path / "run")
    judge = Judge(scripted_model(fn=by_dialogue(), name="scripted:a"), load_rubric("quality"))
    result = run_judging(judge, run, ids=[0, 1, 2], progress=False)
    out = judgement_folder(run, judge.rubric, "scripted:a")
    assert result.done == 3 and sorted(p.name for p in (out / "dialogs").iterdir()) == ["0.json", "1.json", "2.json"]
    assert result.tokens > 0  # the judge's tokens, not the dialogues'
    again = run_judging(Judge(scripted_model(fn=by_dialogue(), name="scripted:a"), load_rubric("quality")), run,
                        progress=False)
    assert (again.skipped, again.done) == (3, 3)
    pairs = load_judgements(run)
    assert len(pairs) == 6 and pairs[0][1].scores[0].reasoning == "dialogue 0"
    assert RunFolder(run).load_dialogs()[0].metadata.get("judgement") is None  # the run itself is untouched


def test_another_rubric_in_the_same_folder_is_refused(tmp_path):
    from roleplay.errors import ConfigError

    run = make_run(tmp_path / "run", n=2)
    out = tmp_path / "j"
    run_judging(Judge(scripted_model(fn=by_dialogue()), load_rubric("quality")), run, out, progress=False)
    with pytest.raises(ConfigError, match="other settings"):
        run_judging(Judge(scripted_model(fn=by_dialogue()), load_rubric("social")), run, out, progress=False)


def test_a_failing_judge_lists_the_dialogue_in_failures_and_a_rerun_retries_it(tmp_path):
    run = make_run(tmp_path / "run", n=2)
    broken = Judge(scripted_model(fn=lambda r: "no"), load_rubric("quality"), attempts=1)
    result = run_judging(broken, run, attempts=1, progress=False)
    out = judgement_folder(run, broken.rubric, broken.name)
    assert result.failed == 2 and result.done == 0
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert "gave no valid answer" in failures[0]["error"]
    fixed = run_judging(Judge(scripted_model(fn=by_dialogue()), load_rubric("quality")), run, progress=False)
    assert fixed.done == 2


def test_agreement_of_two_judges_unit_by_unit(tmp_path):
    run = make_run(tmp_path / "run")
    for name, offset in (("scripted:a", 0), ("scripted:b", 0), ("scripted:c", 2)):
        run_judging(Judge(scripted_model(fn=by_dialogue(offset), name=name), load_rubric("quality")), run,
                    progress=False)
    pairs = load_judgements(run)
    rows = {row["dimension"]: row for row in agreement_rows(pairs)}
    coherence = rows["coherence"]
    assert coherence["judges"] == 3 and coherence["units"] == 6
    two = agreement_rows([p for p in pairs if p[1].judge != "scripted:c"])
    assert all(row["alpha"] == 1.0 and row["spearman"] == 1.0 for row in two)
    assert coherence["alpha"] < 1.0


def test_pass_k_from_trials_by_tracker_or_judge(tmp_path):
    run = make_run(tmp_path / "run", n=6, trials=3)  # task 0: ids 0,1,2 -> F,T,T; task 1: ids 3,4,5 -> F,T,T
    dialogs = RunFolder(run).load_dialogs()
    report = pass_k_report(dialogs, SuccessRule("completed"), [])
    assert report["rows"][1] == {"k": 2, "pass_hat_k": round(1 / 3, 4), "tasks": 2}
    run_judging(Judge(scripted_model(fn=by_dialogue()), load_rubric("quality")), run, progress=False)
    judged = pass_k_report(dialogs, SuccessRule("quality.coherence>=3"), load_judgements(run))
    # coherence = 1 + id % 5: ids 2,3,4 pass -> task 0: F,F,T (pass^1 1/3), task 1: T,T,F (2/3)
    assert judged["rows"][0]["pass_hat_k"] == 0.5
    with pytest.raises(Exception, match="Bad success rule"):
        SuccessRule("coherence>3")


def test_evaluate_prints_and_writes_the_judged_tables(tmp_path):
    run = two_judges(tmp_path)
    shown = CliRunner().invoke(cli, ["evaluate", str(run)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "Judge agreement" in shown.output and "pass^k over 3 tasks, 6 trials" in shown.output
    report = json.loads((run / "evaluation.json").read_text())
    assert {"judges", "pass_k", "persona_rules"} <= set(report)
    assert (run / "evaluation.agreement.csv").read_text().startswith("rubric,dimension,judges,units,alpha,spearman")
    bad = CliRunner().invoke(cli, ["evaluate", str(run), "--success", "nonsense"])
    assert bad.exit_code == 1 and "Bad success rule" in bad.output


def test_judge_command_runs_and_rejects_out_with_several_judges(tmp_path):
    run = make_run(tmp_path / "run", n=2)
    done = CliRunner().invoke(cli, ["judge", str(run), "--rubric", "quality", "-j", "scripted:auto"],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert (run / "judgements" / "quality--scripted_auto" / "dialogs" / "1.json").is_file()
    both = CliRunner().invoke(cli, ["judge", str(run), "-j", "scripted:auto", "-j", "embedded", "--out", "x"])
    assert both.exit_code == 2 and "--out names one judgement folder" in both.output
    twice = CliRunner().invoke(cli, ["judge", str(run), "-j", "scripted:auto", "-j", "scripted:auto"])
    assert twice.exit_code == 2 and "--judge scripted:auto is given more than once" in twice.output
    assert not (run / "judgements" / "social--scripted_auto").exists()
    missing = CliRunner().invoke(cli, ["judge", str(run), "--rubric", "nope"])
    assert missing.exit_code == 1 and "Unknown rubric 'nope'" in missing.output


ROOT = Path(__file__).resolve().parent.parent


def test_batch_trials_repeat_each_task_with_its_cast_and_distinct_seeds(tmp_path):
    out = tmp_path / "trials"
    shown = CliRunner().invoke(cli, ["batch", str(ROOT / "scenarios" / "clinic_diverse.yaml"), "-n", "2", "--trials",
                                     "3", "-m", "scripted:auto", "--max-turns", "2", "--out", str(out)],
                               catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "6 dialogues (2 x 3 trials)" in shown.output
    dialogs = {d.id: d for d in RunFolder(out).load_dialogs()}
    assert [dialogs[i].metadata["trial"] for i in range(6)] == [{"task": t, "trial": k} for t in (0, 1)
                                                                for k in (0, 1, 2)]
    assert [dialogs[i].seed for i in range(6)] == list(range(6))
    casts = [dialogs[i].personas["Patient"] for i in range(6)]
    assert casts[0] == casts[1] == casts[2] and casts[3] == casts[4] == casts[5] and casts[0] != casts[3]
    evaluated = CliRunner().invoke(cli, ["evaluate", str(out)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "pass^k over 0 tasks, 0 trials (success: completed; 6 without an outcome" in evaluated.output


def test_report_has_the_judged_tables_and_each_dialogues_reasoning(tmp_path):
    import base64
    import gzip

    run = two_judges(tmp_path)
    shown = CliRunner().invoke(cli, ["report", str(run)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    page = (run / "report.html").read_text()
    for title in ("Judge scores", "Judge agreement", "pass^k", "Persona rule check"):
        assert f"<h2>{title}</h2>" in page
    packed = page.split('<script id="rp-data" type="application/octet-stream">')[1].split("</script>")[0]
    data = json.loads(gzip.decompress(base64.b64decode(packed)))
    html = data["dialogs"][3]["html"]
    assert "scripted:a on quality" in html and "scripted:b on quality" in html and "dialogue 3" in html
