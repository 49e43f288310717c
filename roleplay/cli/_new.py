"""`roleplay new NAME`: a folder with a commented scenario and its persona files that run as written.

The files are package data (``roleplay/_data/new_scenario``), so what a user starts from is also what the
tests run. They are written into a temporary folder beside NAME and renamed into place, so an error half
way never leaves half a scenario, and an existing NAME is never touched.
"""

from __future__ import annotations

import shutil
import string
import tempfile
from pathlib import Path

import click

from roleplay.cli._base import cli, friendly
from roleplay.errors import ConfigError
from roleplay.resources import data_dir

__all__ = ["write_scenario_folder"]


def write_scenario_folder(folder: Path) -> list[Path]:
    """Write the starter scenario into ``folder`` (which must not exist), named after it; returns the files."""
    if folder.exists() or folder.is_symlink():
        raise ConfigError(f"{folder} already exists; roleplay new never overwrites. Pick another NAME, or remove "
                          f"{folder} first.")
    name = folder.resolve().name
    if not name.strip() or not any(c.isalnum() for c in name):
        raise ConfigError(f"{str(folder)!r} is not a usable scenario name; give a name with letters or digits, "
                          "e.g. roleplay new my_clinic.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder.parent))
    try:
        for template in sorted((data_dir() / "new_scenario").iterdir()):
            text = string.Template(template.read_text(encoding="utf-8")).substitute(name=name)
            (staging / template.name).write_text(text, encoding="utf-8")
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(folder.iterdir())


@cli.command()
@click.argument("name", type=click.Path(path_type=Path))
@friendly
def new(name: Path) -> None:
    """Write a folder NAME with a commented scenario.yaml and its persona files, ready to run and edit."""
    files = write_scenario_folder(name)
    click.echo(f"Wrote {', '.join(str(f) for f in files)}")
    click.echo(f"Run it: roleplay run {name / 'scenario.yaml'}   (edit the YAML and run it again; "
               "`roleplay schema scenario` lists every field)")
