"""`roleplay batch` and `evaluate`: run folders of many dialogues."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from roleplay.cli._arms import prompt_only as as_prompt_only
from roleplay.cli._arms import prompt_only_option
from roleplay.cli._base import OutputPath, cli, friendly, model_option, request_timeout_option
from roleplay.cli._batch_options import backend_options, budget_arguments
from roleplay.cli._coverage import cover_job, cover_options
from roleplay.dialog import Dialog
from roleplay.runs.jobs import batch_job

if TYPE_CHECKING:
    from roleplay.runs.batch import BatchResult
    from roleplay.scenario import Scenario

F = TypeVar("F", bound=Callable[..., Any])


def run_options(command: F) -> F:
    """The options every resumable run shares (`batch`, `star generate`): concurrency, retries, servers, force."""
    options = [
        click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
                     help="Dialogues in flight at once (an in-process model still runs one call at a time)."),
        click.option("--attempts", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Tries per dialogue on transient errors (exponential backoff)."),
        click.option("--max-failures", type=click.IntRange(min=0), default=None,
                     help="Abort after this many failures."),
        click.option("--base-url", "servers", multiple=True, metavar="URL",
                     help="Server of an ollama: or openai: model. Repeat it for a pool of identical servers: dialogue "
                          "i goes to the (i mod count)-th, so servers that run one request at a time still work in "
                          "parallel."),
        click.option("--force", is_flag=True, help="Resume even though the settings or input files changed (the "
                                                   "folder then mixes old and new dialogues)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def batch_arguments(run: dict[str, Any]) -> dict[str, Any]:
    """The `run_options` values as keyword arguments of a batch runner."""
    return {key: run[key] for key in ("concurrency", "attempts", "max_failures", "servers", "force")}


def usage_line(usage: dict[str, Any]) -> str:
    """One line of a run's totals (`roleplay.runs.batch.run_totals`): tokens by source, and the cost if priced."""
    sources = usage.get("by_source", {})
    total = sources.get("total", {})
    parts = ", ".join(f"{name} {counts['prompt_tokens'] + counts['completion_tokens']:,}"
                      for name, counts in sources.items() if name != "total")
    line = (f"Tokens: {total.get('prompt_tokens', 0):,} prompt + "
            f"{total.get('completion_tokens', 0):,} completion" + (f" ({parts})" if parts else ""))
    cost = usage.get("cost")
    if cost:
        unpriced = f"; no price for {', '.join(cost['unpriced_models'])}" if cost["unpriced_models"] else ""
        line += f"; cost {cost['amount']:.4g} at {cost['prices']}{unpriced}"
    return line


def prices_option(command: F) -> F:
    """``--prices FILE``: a user's price table (model -> prices per million tokens), for costs in totals."""
    return click.option("--prices", type=click.Path(path_type=Path), default=None, metavar="PRICES.yaml",
                        help="Price table: model string (or glob) -> {prompt: X, completion: Y} per million tokens. "
                             "roleplay ships no prices; costs are shown only for models you price.")(command)


def run_or_resume(out: Path, work: Coroutine[Any, Any, BatchResult]) -> BatchResult:
    """Run a batch coroutine; Ctrl-C says where the finished dialogues are and how to resume."""
    from roleplay._aio import run_sync

    try:
        return run_sync(work)
    except KeyboardInterrupt:
        raise click.ClickException(f"Interrupted. Finished dialogues are safe in {out}; rerun the same command "
                                   "to resume.") from None


def report_batch(result: BatchResult, out: Path, max_failures: int | None) -> None:
    """Print the summary; exit non-zero (after everything was written) if any dialogue failed."""
    click.echo(result.summary())
    if result.usage:
        click.echo(usage_line(result.usage))
    if result.aborted:
        raise click.ClickException(f"More than {max_failures} dialogues failed; stopped. See {out / 'failures.jsonl'}. "
                                   f"{result.cause()}")
    if result.failed:
        raise click.ClickException(f"{result.failed} dialogue(s) failed; they are listed in "
                                   f"{out / 'failures.jsonl'}. {result.cause()}")


@cli.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("-n", "n", type=click.IntRange(min=1), required=True, help="How many dialogues (ids 0..n-1).")
@click.option("--seed", type=int, default=0, show_default=True, help="Dialogue i uses seed + i.")
@click.option("--trials", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run each of the N dialogues K times with distinct seeds (same variant and cast), for pass^k "
                   "in `roleplay evaluate`; the folder then holds N*K dialogues.")
@click.option("--out", type=OutputPath(), required=True, help="Batch folder (resumable).")
@model_option("Override the scenario's model.")
@click.option("--max-turns", type=click.IntRange(min=1), default=None)
@click.option("--cache", "cache", type=click.Path(path_type=Path), default=None,
              help="Response cache folder: a rerun with the same seeds replays from it without calling the model.")
@click.option("--budget", default=None, metavar="TOKENS|cost:AMOUNT",
              help="Stop starting dialogues once the folder's dialogues spent this many tokens (200000, 200k, 2M) "
                   "or this cost at --prices (cost:2.5). Rerun with a larger budget to go on.")
@prices_option
@request_timeout_option
@prompt_only_option
@run_options
@click.option("--executor", type=click.Choice(["local", "processes", "ray"]), default="local", show_default=True,
              help="Where dialogues run: this process, worker processes on this machine (to keep up with a fast "
                   "server), or Ray actors (pip install 'roleplay-sim[ray]'); this process writes OUT either way.")
@click.option("--ray-address", default=None, metavar="HOST:PORT",
              help="Ray cluster to join (default: RAY_ADDRESS, else a new local one). Needs --executor ray.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core) or Ray actors (default: one per node), each with "
                   "--concurrency dialogues in flight. With ray, a --base-url may hold {node_ip} for a server on each "
                   "actor's node. Needs --executor processes or ray.")
@cover_options
@friendly
def batch(scenario_file: Path, n: int, seed: int, trials: int, out: Path, model: str | None, max_turns: int | None,
          cache: Path | None, budget: str | None, prices: Path | None, request_timeout: float | None,
          prompt_only: bool, executor: str, ray_address: str | None, workers: int | None, cover: str | None,
          cover_wave: int, **run: Any) -> None:
    """Generate N dialogues of SCENARIO_FILE into OUT; rerun the same command to resume."""
    if executor != "ray" and ray_address is not None:
        raise click.UsageError("--ray-address needs --executor ray.")
    if executor == "local" and workers is not None:
        raise click.UsageError("--workers needs --executor processes or ray.")
    from roleplay.runs.batch import arun_batch
    from roleplay.runs.folder import content_hash
    from roleplay.runs.processes import arun_process_batch, worker_count
    from roleplay.scenario import load_scenario

    scenario = as_prompt_only(load_scenario(scenario_file)) if prompt_only else load_scenario(scenario_file)
    options = backend_options(cache, request_timeout)
    job = batch_job(scenario, model=model, max_turns=max_turns, servers=run["servers"], **options)
    job.trials = trials
    params: dict[str, Any] = {"scenario": str(scenario_file), "model": model or scenario.model, "max_turns": max_turns,
              "inputs_sha256": content_hash(_scenario_inputs(scenario)),
              **({"trials": trials} if trials > 1 else {}), **({"prompt_only": True} if prompt_only else {})}
    n *= trials
    if cover is not None:
        job = _cover_batch(job, scenario, n, out, seed, cover, cover_wave, run["attempts"], max_turns, executor)
        params["cover"] = {"kind": cover, "wave": cover_wave}
    pool = f", {len(run['servers'])} servers" if len(run["servers"]) > 1 else \
        f", {options['replicas']} llama.cpp copies" if options.get("replicas", 1) > 1 else ""
    per_worker = {"ray": " per Ray worker",
                  "processes": f" in each of {worker_count(workers)} worker processes"}.get(executor, "")
    shown = f"{n} dialogues" + (f" ({n // trials} x {trials} trials)" if trials > 1 else "")
    click.echo(f"Batch {scenario.name}: {shown}, concurrency {run['concurrency']}{per_worker}, seeds {seed}.."
               f"{seed + n - 1}, {len(scenario.grid())} variant(s){pool} -> {out}")
    arguments = {k: v for k, v in batch_arguments(run).items() if k != "servers"}
    arguments.update(budget_arguments(budget, prices))
    if executor == "ray":
        from roleplay.runs.ray_executor import arun_ray_batch

        work = arun_ray_batch(job, n, out, address=ray_address, workers=workers, seed=seed, params=params, **arguments)
    elif executor == "processes":
        work = arun_process_batch(job, n, out, workers=workers, seed=seed, params=params, **arguments)
    else:
        work = arun_batch(job, n, out, seed=seed, params=params, **arguments)
    result = run_or_resume(out, work)
    report_batch(result, out, run["max_failures"])


def _cover_batch(job: Any, scenario: Scenario, n: int, out: Path, seed: int, cover: str, wave: int, attempts: int,
                 max_turns: int | None, executor: str) -> Any:
    """The batch's job steered towards uncovered policy edges (``--cover``), for the local executor."""
    if executor != "local":
        raise click.UsageError("--cover needs --executor local: each dialogue's target depends on the dialogues "
                               "before it, which this process tracks.")
    policy = scenario.load_policy()
    return cover_job(job, range(n), lambda _: policy.graphs if policy else {}, cover, out, seed=seed, wave=wave,
                     attempts=attempts, max_turns=max_turns or scenario.stop.max_turns, policy=policy)


def _scenario_inputs(scenario: Scenario) -> list[Path]:
    """The files a scenario's dialogues depend on: itself, its personas, sampling rules, examples and graph.

    ``scenario.path`` is the resolved file, so a bundled scenario given by name is fingerprinted too.
    """
    assert scenario.path is not None, "load_scenario records the file"
    path = Path(scenario.path)
    named = [a.persona for a in scenario.agents if isinstance(a.persona, str)]
    named += [a.sample for a in scenario.agents if isinstance(a.sample, str)]
    named += [e for e in scenario.examples if isinstance(e, str)]
    named += [scenario.policy.graph] if scenario.policy else []
    return [path, *(path.parent / name for name in named), *_sampled_data_files(scenario)]


def _sampled_data_files(scenario: Scenario) -> list[Path]:
    """The data files that sampling rules draw from (``{file: complaints.txt}``, ``{csv: ...}``), in rule order."""
    from roleplay.personas._rules import Column, Lines

    return [rule.path for sampler in scenario.samplers(scenario.model).values() for rule in sampler.rules.values()
            if isinstance(rule, (Lines, Column))]


@cli.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--star-path", type=click.Path(path_type=Path), default=None,
              help="STAR folder: graphs for STAR dialogues, and the real dialogues to compare with.")
@click.option("--graph", "graph_file", type=click.Path(path_type=Path), default=None,
              help="A DOT policy graph for every dialogue (instead of STAR's task graphs).")
@click.option("--out", type=OutputPath(), default=None,
              help="Report path without extension (default: FOLDER/evaluation; needed for several folders) -> .csv "
                   "and .json.")
@prices_option
@click.option("--success", default=None, metavar="RULE",
              help="pass^k success: 'completed' (policy tracker reached a goal; the default for a --trials run) or "
                   "'<rubric>.<dimension>>=N' on the judges' mean score.")
@click.option("--drop-sim-errors", is_flag=True,
              help="Leave dialogues a judge marked as user-simulator errors out of pass^k.")
@friendly
def evaluate(folders: tuple[Path, ...], star_path: Path | None, graph_file: Path | None, out: Path | None,
             prices: Path | None, success: str | None, drop_sim_errors: bool) -> None:
    """Text quality of the dialogues in FOLDERS, and with --graph or --star-path their policy adherence.

    Tables per batch variant and policy arm (enforced, prompt_only), and per task (adherence), written as
    CSV and JSON. Several folders (an enforced and a prompt-only run, say) are evaluated together.
    """
    from roleplay.cli._tables import echo_table
    from roleplay.evaluation import load_dialogs, text_report, write_report
    from roleplay.evaluation.report import adherence_warnings

    if star_path is not None and graph_file is not None:
        raise click.ClickException("Give --star-path (STAR dialogues) or --graph FILE.dot (your own policy), "
                                   "not both.")
    from roleplay.cli._judged import echo_judged, judged_sections
    from roleplay.prices import load_prices
    from roleplay.runs.batch import run_totals
    from roleplay.usage import dialog_usage

    report_path = _report_path(folders, out)
    folder = folders[0] if len(folders) == 1 else None
    table_of_prices = load_prices(prices) if prices is not None else None
    dialogs = load_dialogs(folders)
    text = text_report(dialogs)
    usage = run_totals([line for dialog in dialogs for line in dialog_usage(dialog)], table_of_prices)
    if star_path is None and graph_file is None:
        report = text
    else:
        report = {**_adherence(folders, star_path, graph_file), "text": text}
        report["warnings"] = adherence_warnings(report)
        for warning in report["warnings"]:
            click.echo(f"Warning: {warning}", err=True)
        echo_table(report["summary"], "Policy adherence")
    echo_table(text["summary"], "Text quality")
    if "comparison" in report:
        _echo_comparison(report)
    click.echo(usage_line(usage))
    judged = judged_sections(folder, dialogs, success, drop_sim_errors) if folder else {}
    if judged:
        echo_judged(judged, report_path)
    else:
        click.echo("\nJudge scores, persona rule checks and pass^k are kept per folder: evaluate one folder for them.")
    json_path, csv_path = write_report({**report, "usage": usage, **judged}, report_path)
    click.echo(f"Saved {csv_path} and {json_path}")


def _report_path(folders: tuple[Path, ...], out: Path | None) -> Path:
    """Where evaluate's .json and .csv go (``--out``, needed for several folders), checked writable first."""
    from roleplay._atomic import check_writable
    from roleplay.runs.folder import check_output

    if out is None and len(folders) > 1:
        raise click.UsageError(f"{len(folders)} folders make one report: say where it goes with --out PATH.")
    report_path = out or folders[0] / "evaluation"
    for written in (report_path.with_suffix(".json"), report_path.with_suffix(".csv")):
        check_output(written)
        check_writable(written)
    return report_path


def _echo_comparison(report: dict[str, Any]) -> None:
    """One line on how the generated dialogues compare with the real STAR ones."""
    comparison = report["comparison"]
    overall = report["summary"][-1]
    click.echo(f"\nvs real STAR ({comparison['pairs']} pairs): action-sequence similarity "
               f"{comparison['action_sequence_similarity']}, length ratio (generated/real system actions) "
               f"{comparison['length_ratio']['mean']}, turns generated {comparison['generated_turns']} "
               f"vs real {comparison['real_turns']}; ended by max_turns {overall['ended_by_max_turns']}, "
               f"user quit before the goal {overall['user_quit_before_goal']}")


def _adherence(folders: tuple[Path, ...], star_path: Path | None, graph_file: Path | None) -> dict[str, Any]:
    """The adherence report against one DOT graph, or against each STAR dialogue's task graphs and real dialogue."""
    from roleplay.evaluation import evaluate_folder

    if graph_file is not None:
        from roleplay.policy.graph import read_dot

        graph = read_dot(graph_file)
        return evaluate_folder(folders, lambda d: {graph.graph["name"]: graph})
    from roleplay.datasets.star._format import scenario_tasks
    from roleplay.datasets.star._loader import StarDataset

    assert star_path is not None, "evaluate() asks for adherence with --star or --graph"
    dataset = StarDataset(star_path)

    def graphs_for(dialog: Dialog) -> dict[str, Any]:
        tasks = scenario_tasks(dialog.scenario)
        if not tasks:
            raise click.ClickException(f"Dialogue {dialog.id} has no STAR scenario; evaluate it with --graph.")
        return {t: dataset.get_task_graph(t) for t in tasks}

    real_ids = set(dataset.dialog_ids())

    def real(dialog: Dialog) -> Dialog | None:
        return dataset.get_dialog(dialog.id) if dialog.id in real_ids else None

    return evaluate_folder(folders, graphs_for, real)
