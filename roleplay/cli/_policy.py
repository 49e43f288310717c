"""`roleplay graph`: check a policy graph."""

from __future__ import annotations

from pathlib import Path

import click

from roleplay.cli._base import OutputPath, cli, friendly


@cli.command()
@click.argument("dot_file", type=click.Path(path_type=Path))
@click.option("--svg", "svg_file", type=OutputPath(), default=None,
              help="Also draw the graph as a layered flowchart into this .svg file.")
@friendly
def graph(dot_file: Path, svg_file: Path | None) -> None:
    """Check a DOT policy graph and list each action with what may follow it (and draw it with --svg)."""
    import warnings

    from roleplay.policy.graph import PolicyGraphWarning, is_system, legal_actions, mean_out_degree, read_dot

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
    if svg_file is not None:
        from roleplay.viz import draw_policy

        click.echo(f"Drew {draw_policy(policy).save(svg_file)}")
