"""The README and docs/ teach what the code does: short README, importable names, live links, current CLI reference."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
DOTTED_NAME = re.compile(r"^roleplay(\.[A-Za-z_]\w*)+$")
IMPORT_START = re.compile(r"^\s*(from roleplay[\w.]* import |import roleplay\b)")


def code_blocks(page: Path) -> list[tuple[str, str]]:
    """(language, text) of every fenced block of a Markdown page, in order."""
    return FENCE.findall(page.read_text(encoding="utf-8"))


def prose(page: Path) -> str:
    """The page without its fenced blocks (so links and names are read from the text only)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def roleplay_imports(text: str) -> list[str]:
    """Each ``from roleplay... import ...`` / ``import roleplay...`` statement of a code block, whole.

    A parenthesised import is joined up to its closing bracket; comments are left to Python.
    """
    lines, statements, index = text.splitlines(), [], 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not IMPORT_START.match(line):
            continue
        statement = line.strip()
        while "(" in statement and ")" not in statement and index < len(lines):
            statement += "\n" + lines[index]
            index += 1
        statements.append(statement)
    return statements


def resolve(dotted: str) -> object:
    """The object a dotted name stands for: attributes of the modules along it, a submodule imported when needed."""
    first, *rest = dotted.split(".")
    found: object = importlib.import_module(first)
    path = first
    for part in rest:
        path = f"{path}.{part}"
        if not hasattr(found, part) and isinstance(found, type(importlib)) and hasattr(found, "__path__"):
            importlib.import_module(path)  # a submodule not imported yet (raises if there is none)
        found = getattr(found, part)
    return found


def test_readme_is_at_most_150_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; keep it to 150 and move detail into docs/."


def test_the_readmes_first_code_block_is_the_two_setup_commands():
    _, first = code_blocks(README)[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"], (
        f"README.md's first code block must be `make demo` and `make test` alone; it runs {commands}.")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_roleplay_import_in_a_code_block_works(page):
    statements = [s for _, block in code_blocks(page) for s in roleplay_imports(block)]
    broken = []
    for statement in statements:
        try:
            exec(statement, {})  # noqa: S102  (the docs' own import lines, nothing else)
        except ImportError as err:
            broken.append(f"{statement!r}: {err}")
    assert not broken, f"{page.name} teaches imports that fail:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_dotted_roleplay_name_in_the_text_exists(page):
    text = re.sub(r"(?<!\n)\n(?!\n)", " ", prose(page))  # a code span may go on over a line break
    names = sorted({code for code in INLINE_CODE.findall(text) if DOTTED_NAME.match(code)})
    missing = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError) as err:
            missing.append(f"`{name}`: {err}")
    assert not missing, f"{page.name} names what does not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_points_to_a_file(page):
    targets = [t for t in LINK.findall(prose(page)) if not re.match(r"^(https?:|mailto:|#)", t)]
    missing = [t for t in targets if not (page.parent / t.split("#")[0]).exists()]
    assert not missing, f"{page.name} links to files that do not exist: {missing}"


def test_the_link_and_import_readers_find_what_they_look_for():
    """The checks above cannot pass by reading nothing: each reader finds its items on a known text."""
    block = "x = 1\nfrom roleplay.personas import (\n    Persona,\n)\nimport roleplay.dialog  # data\n"
    assert roleplay_imports(block) == ["from roleplay.personas import (\n    Persona,\n)",
                                       "import roleplay.dialog  # data"]
    assert LINK.findall("see [a](docs/x.md#top) and [b](https://x.org)") == ["docs/x.md#top", "https://x.org"]
    assert resolve("roleplay.personas.Persona").__name__ == "Persona"
    with pytest.raises(ImportError):  # a package: the name could have been a submodule
        resolve("roleplay.personas.NoSuchPersona")
    with pytest.raises(AttributeError):
        resolve("roleplay.dialog.NoSuchDialog")
    assert len(code_blocks(README)) >= 4 and sum(len(roleplay_imports(b)) for _, b in code_blocks(README)) >= 3


def cli_reference_generator():
    """docs/make_cli_reference.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("make_cli_reference", ROOT / "docs" / "make_cli_reference.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    return generator


def test_the_cli_reference_is_current():
    generator = cli_reference_generator()
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == generator.reference(), (
        "docs/cli.md differs from the commands' --help: run python docs/make_cli_reference.py")


def test_the_cli_reference_does_not_depend_on_the_terminal(monkeypatch):
    generator = cli_reference_generator()
    monkeypatch.setenv("COLUMNS", "40")
    narrow = generator.reference()
    monkeypatch.setenv("COLUMNS", "300")
    assert generator.reference() == narrow
    assert "## roleplay run\n" in narrow and "--max-turns" in narrow
    local = [str(place) for place in (ROOT, Path.home(), Path.cwd()) if str(place) in narrow]
    assert not local, f"docs/cli.md would print this machine's paths {local}: give those options a default of None"
