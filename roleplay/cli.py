"""The ``roleplay`` command.

The only module that prints, and the only one that turns roleplay errors into click errors, so users
see the problem and the fix, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from roleplay.backends import known_backends
from roleplay.dialog import Dialog, Turn
from roleplay.errors import RoleplayError

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Show a `RoleplayError` as 'Error: <problem and fix>' with exit code 1, and Ctrl-C as a short note."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RoleplayError as err:
            raise click.ClickException(str(err)) from err
        except KeyboardInterrupt:
            raise click.ClickException("Interrupted; nothing half-written was left behind.") from None
    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="roleplay")
def cli() -> None:
    """Simulate conversations between LLM agents that role-play personas."""


@cli.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("-m", "--model", envvar="ROLEPLAY_MODEL", default=None,
              help="Model for every agent, e.g. embedded, ollama:qwen2.5:14b, openai:gpt-4o-mini, llamacpp:/x.gguf. "
                   "Default: the scenario's.")
@click.option("--seed", type=int, default=None, help="Sampling seed (random if not given; saved in the dialogue).")
@click.option("--max-turns", type=click.IntRange(min=1), default=None, help="Override the scenario's turn cap.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Folder for the JSON and TXT files.")
@click.option("-q", "--quiet", is_flag=True, help="Do not print turns as they are spoken.")
@_friendly
def run(scenario_file: Path, model: str | None, seed: int | None, max_turns: int | None, out: Path,
        quiet: bool) -> None:
    """Role-play SCENARIO_FILE (e.g. scenarios/doctor_patient.yaml), print it turn by turn and save it."""
    from roleplay.generators import new_seed
    from roleplay.scenario import load_scenario

    scenario = load_scenario(scenario_file)
    generator = scenario.generator(model=model, max_turns=max_turns)
    seed = new_seed() if seed is None else seed
    label = generator.model_label()
    click.echo(f"Scenario: {scenario.name} | model: {label} | seed: {seed}")

    def show(turn: Turn) -> None:
        if not quiet:
            click.echo(f"[{turn.speaker}] {turn.text}")

    dialog = generator.generate(seed=seed, on_turn=show)
    stem = out / f"{scenario.name}_{seed}"
    json_path = dialog.to_file(stem.with_suffix(".json"))
    txt_path = dialog.to_file(stem.with_suffix(".txt"))
    facts = dialog.metadata
    click.echo(
        f"Stopped: {dialog.stop_reason.value if dialog.stop_reason else '?'} after {len(dialog)} turns, "
        f"{facts.get('seconds')} s, {facts.get('completion_tokens')} tokens generated "
        f"({facts.get('tokens_per_second')} tokens/s)."
    )
    if "error" in facts:
        click.echo(f"Error: {facts['error']}", err=True)
    click.echo(f"Saved {json_path} and {txt_path}")


@cli.command()
@click.argument("dialog_file", type=click.Path(path_type=Path))
@click.option("--scenario", "with_scenario", is_flag=True, help="Show the scenario too.")
@_friendly
def show(dialog_file: Path, with_scenario: bool) -> None:
    """Pretty-print a saved dialogue (.json or .txt)."""
    click.echo(Dialog.from_file(dialog_file).render(scenario=with_scenario))


@cli.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("-n", "n", type=click.IntRange(min=1), required=True, help="How many dialogues (ids 0..n-1).")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True,
              help="Dialogues in flight at once (an in-process model still runs one call at a time).")
@click.option("--seed", type=int, default=0, show_default=True, help="Dialogue i uses seed + i.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Batch folder (resumable).")
@click.option("-m", "--model", envvar="ROLEPLAY_MODEL", default=None, help="Override the scenario's model.")
@click.option("--max-turns", type=click.IntRange(min=1), default=None)
@click.option("--attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Tries per dialogue on transient errors (exponential backoff).")
@click.option("--max-failures", type=click.IntRange(min=0), default=None, help="Abort after this many failures.")
@click.option("--cache", "cache", type=click.Path(path_type=Path), default=None,
              help="Response cache folder: a rerun with the same seeds replays from it without calling the model.")
@click.option("--base-url", "servers", multiple=True, metavar="URL",
              help="Server of an ollama: or openai: model. Repeat it for a pool of identical servers: dialogue i "
                   "goes to the (i mod count)-th, so servers that run one request at a time still work in parallel.")
@_friendly
def batch(scenario_file: Path, n: int, concurrency: int, seed: int, out: Path, model: str | None,
          max_turns: int | None, attempts: int, max_failures: int | None, cache: Path | None,
          servers: tuple[str, ...]) -> None:
    """Generate N dialogues of SCENARIO_FILE into OUT; rerun the same command to resume."""
    from roleplay.batch import run_batch
    from roleplay.scenario import load_scenario

    scenario = load_scenario(scenario_file)
    options = {"cache_dir": str(cache)} if cache else {}
    job = scenario.batch_job(model=model, max_turns=max_turns, servers=servers, **options)
    params = {"scenario": str(scenario_file), "model": model or scenario.model, "max_turns": max_turns}
    pool = f", {len(servers)} servers" if len(servers) > 1 else ""
    click.echo(f"Batch {scenario.name}: {n} dialogues, concurrency {concurrency}, seeds {seed}..{seed + n - 1}, "
               f"{len(scenario.grid())} variant(s){pool} -> {out}")
    try:
        result = run_batch(job, n, out, seed=seed, concurrency=concurrency, attempts=attempts,
                           max_failures=max_failures, params=params)
    except KeyboardInterrupt:
        raise click.ClickException(f"Interrupted. Finished dialogues are safe in {out}; rerun the same command "
                                   "to resume.") from None
    click.echo(result.summary())
    if result.failed:
        click.echo(f"Failures are listed in {out / 'failures.jsonl'}; rerun the same command to retry them.", err=True)
    if result.aborted:
        raise click.ClickException(f"More than {max_failures} dialogues failed; stopped. See {out / 'failures.jsonl'}.")


@cli.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "sharegpt", "openai", "hf"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output file (a folder for hf).")
@click.option("--roles", default=None, help="Speaker -> role, e.g. Doctor=assistant,Patient=user "
                                            "(default: first speaker user, others assistant).")
@_friendly
def export_command(folder: Path, fmt: str, out: Path, roles: str | None) -> None:
    """Export the dialogues in FOLDER, one per line (jsonl, sharegpt, openai) or as a HF dataset."""
    from roleplay.export import export, parse_roles

    count = export(folder, fmt, out, parse_roles(roles))
    click.echo(f"Exported {count} dialogues to {out} ({fmt}).")


@cli.command("intent-chat")
@click.option("--taxonomy", type=click.Path(path_type=Path), default=Path("scenarios/intents.yaml"), show_default=True)
@click.option("--per-intent", type=click.IntRange(min=1), default=20, show_default=True,
              help="Conversations per intent.")
@click.option("--turns", type=click.IntRange(min=2), default=6, show_default=True,
              help="Messages per conversation, user + assistant (6 = 3 questions, 3 answers); even.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="JSONL file (work in OUT.parts/).")
@click.option("-m", "--model", envvar="ROLEPLAY_MODEL", default="embedded", show_default=True)
@click.option("--temperature", type=float, default=0.9, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True)
@_friendly
def intent_chat(taxonomy: Path, per_intent: int, turns: int, out: Path, model: str, temperature: float, seed: int,
                concurrency: int) -> None:
    """Synthesize consistent user–assistant conversations from a taxonomy of intents (resumable)."""
    from roleplay.intent_chat import IntentChatGenerator

    generator = IntentChatGenerator(model, per_intent, turns, temperature, taxonomy, seed=seed,
                                    concurrency=concurrency)
    click.echo(f"{generator.total} conversations of {turns} messages -> {out}")
    report = generator.run(out)
    click.echo(f"Wrote {report['conversations']} conversations ({report['dropped']} dropped by the filters, "
               f"regenerated: {report['regenerations_by_reason'] or 'none'}); distinct-1 {report['distinct_1']}, "
               f"distinct-2 {report['distinct_2']}.")


@cli.group()
def star() -> None:
    """Work with a local copy of the STAR dataset (synthetic dialogues for its scenarios)."""


@star.command("generate")
@click.option("--star-path", type=click.Path(path_type=Path), required=True, help="Folder with tasks/, dialogues/.")
@click.option("--task", default=None, help="Only scenarios of this task, e.g. doctor_followup.")
@click.option("--happy/--unhappy", default=None, help="Only happy (or only unhappy) scenarios.")
@click.option("--multitask/--single-task", default=False, show_default=True, help="Multi-task or single-task ones.")
@click.option("--id", "ids", type=int, multiple=True, help="Only these dialogue ids (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Writes json/<id>.json and txt/<id>.txt.")
@click.option("--mode", type=click.Choice(["roleplay", "description"]), default="roleplay", show_default=True)
@click.option("--prompt-only", is_flag=True, help="Role-play without enforcing the graph (the flowchart is only "
                                                   "pasted into the prompt), to compare with enforcement.")
@click.option("-m", "--model", envvar="ROLEPLAY_MODEL", default="embedded", show_default=True)
@click.option("--max-turns", type=click.IntRange(min=2), default=16, show_default=True)
@_friendly
def star_generate(star_path: Path, task: str | None, happy: bool | None, multitask: bool, ids: tuple[int, ...],
                  out: Path, mode: str, prompt_only: bool, model: str, max_turns: int) -> None:
    """One synthetic dialogue per matching STAR dialogue (seed = its id); ids already in OUT are skipped."""
    from roleplay._aio import run_sync
    from roleplay.datasets.star import STAR
    from roleplay.datasets.star_generate import agenerate_star_batch, pending_ids

    STAR.set_path(star_path)
    if task is not None:
        STAR.get_task(task)
    chosen = list(ids) or [d for d in STAR.dialog_ids() if _star_match(STAR.get_dialog_scenario(d), task, happy,
                                                                         multitask)]
    if not chosen:
        raise click.ClickException("No STAR dialogue matches these filters; loosen --task/--happy/--multitask.")
    todo = pending_ids(chosen, out)
    click.echo(f"{len(chosen)} scenarios, {len(chosen) - len(todo)} already done in {out}; model {model}, "
               f"mode {mode}{' (prompt-only)' if prompt_only else ''}.")
    options = {"max_turns": max_turns} if mode == "roleplay" else {}
    written = run_sync(agenerate_star_batch(chosen, out, mode, model, enforce=not prompt_only, **options))
    click.echo(f"Wrote {len(written)} dialogues to {out}/json and {out}/txt.")


def _star_match(scenario: dict[str, Any], task: str | None, happy: bool | None, multitask: bool) -> bool:
    tasks = [c["Task"] for c in scenario.get("WizardCapabilities", [])]
    return ((task is None or task in tasks) and (happy is None or scenario.get("Happy") == happy)
            and bool(scenario.get("MultiTask")) == multitask)


@star.command("export-graphs")
@click.option("--star-path", type=click.Path(path_type=Path), required=True, help="Folder with tasks/, dialogues/.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("scenarios/star"), show_default=True)
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Keep a mined transition seen at least this many times.")
@_friendly
def star_export_graphs(star_path: Path, out: Path, min_count: int) -> None:
    """Write every task's reconstructed policy graph as OUT/<task>.dot (read back with `roleplay graph`)."""
    from roleplay.datasets.star import STAR
    from roleplay.policy_graph import mean_out_degree, write_dot

    STAR.set_path(star_path)
    for task in STAR.tasks():
        graph = STAR.get_task_graph(task, min_count=min_count)
        path = write_dot(graph, out / f"{task}.dot")
        click.echo(f"{path}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, "
                   f"mean legal next actions {mean_out_degree(graph):.2f}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--star-path", type=click.Path(path_type=Path), default=None,
              help="STAR folder: graphs for STAR dialogues, and the real dialogues to compare with.")
@click.option("--graph", "graph_file", type=click.Path(path_type=Path), default=None,
              help="A DOT policy graph for every dialogue (instead of STAR's task graphs).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report path without extension (default: FOLDER/evaluation) -> .csv and .json.")
@_friendly
def evaluate(folder: Path, star_path: Path | None, graph_file: Path | None, out: Path | None) -> None:
    """Policy adherence of the dialogues in FOLDER: a table per task, written as CSV and JSON."""
    from roleplay.evaluation import evaluate_folder, table, write_report

    if (star_path is None) == (graph_file is None):
        raise click.ClickException("Give --star-path (STAR dialogues) or --graph FILE.dot (your own policy).")
    if graph_file is not None:
        from roleplay.policy_graph import read_dot

        graph = read_dot(graph_file)
        report = evaluate_folder(folder, lambda d: {graph.graph["name"]: graph})
    else:
        from roleplay.datasets.star import STAR

        STAR.set_path(star_path)

        def graphs_for(dialog: Dialog) -> dict[str, Any]:
            scenario = dialog.scenario if isinstance(dialog.scenario, dict) else {}
            tasks = [c["Task"] for c in scenario.get("WizardCapabilities", [])]
            if not tasks:
                raise click.ClickException(f"Dialogue {dialog.id} has no STAR scenario; evaluate it with --graph.")
            return {t: STAR.get_task_graph(t) for t in tasks}

        real_ids = set(STAR.dialog_ids())

        def real(dialog: Dialog) -> Dialog | None:
            return STAR.get_dialog(dialog.id) if dialog.id in real_ids else None

        report = evaluate_folder(folder, graphs_for, real)
    click.echo(table(report["summary"]))
    if "comparison" in report:
        comparison = report["comparison"]
        click.echo(f"\nvs real STAR ({comparison['pairs']} pairs): action-sequence similarity "
                   f"{comparison['action_sequence_similarity']}, turns generated {comparison['generated_turns']} "
                   f"vs real {comparison['real_turns']}")
    json_path, csv_path = write_report(report, out or folder / "evaluation")
    click.echo(f"Saved {csv_path} and {json_path}")


@cli.command()
@click.argument("dot_file", type=click.Path(path_type=Path))
@_friendly
def graph(dot_file: Path) -> None:
    """Check a DOT policy graph and list each action with what may follow it."""
    import warnings

    from roleplay.policy_graph import PolicyGraphWarning, is_system, legal_actions, mean_out_degree, read_dot

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PolicyGraphWarning)
        policy = read_dot(dot_file)
    for warning in caught:
        click.echo(f"Warning: {warning.message}", err=True)
    click.echo(f"{policy.graph['name']}: start {policy.graph['start']}, {policy.number_of_nodes()} nodes, "
               f"mean legal next actions {mean_out_degree(policy):.2f}")
    for node in policy:
        if is_system(policy, node):
            click.echo(f"  {node} -> {', '.join(legal_actions(policy, node)) or '(end)'}")


@cli.command()
def backends() -> None:
    """List the model backends (the prefix before ':' in a model string)."""
    for prefix, help_text in known_backends().items():
        click.echo(f"{prefix:10} {help_text}")


def main() -> None:
    """Console-script entry point."""
    cli()
