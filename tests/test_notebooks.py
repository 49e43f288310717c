"""Every notebook in notebooks/ runs headless, top to bottom, and fails the suite if a cell errors.

The model comes from ``ROLEPLAY_NOTEBOOK_MODEL`` (default ``scripted:auto``, schema-valid scripted
answers, so CI runs the whole engine in seconds); set it to ``embedded`` to run them on the real model.
Outputs go to a temp folder and are not compared.

The committed notebooks carry the outputs of a real run on the full grid each describes, so the repository
page shows results; their outputs hold no warning and no local path. To refresh them, execute each notebook
in place on the embedded model (about an hour on 2 cores: notebook 02 plays 8 dialogues of 16 turns)::

    ROLEPLAY_MODEL=embedded ROLEPLAY_NOTEBOOK_OUT=/tmp/nb STAR_PATH=../shared/star MPLBACKEND=Agg \\
        .venv/bin/jupyter execute --inplace --timeout=-1 notebooks/*.ipynb
"""

import json
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STAR = Path(os.environ.get("STAR_PATH", ROOT.parent / "shared" / "star"))
PICTURES = ("image/svg+xml", "image/png")
WITHOUT_PICTURE = {"04_autogen"}  # AutoGen interop: teams and clients, no policy graph or chart to draw


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    if "star" in path.stem and not STAR.is_dir():
        pytest.skip("../shared/star is not beside the checkout (or set STAR_PATH)")
    monkeypatch.setenv("ROLEPLAY_MODEL", os.environ.get("ROLEPLAY_NOTEBOOK_MODEL", "scripted:auto"))
    monkeypatch.setenv("ROLEPLAY_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("ROLEPLAY_NOTEBOOK_N", "2")
    monkeypatch.setenv("STAR_PATH", str(STAR))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if path.stem not in WITHOUT_PICTURE:
        assert any(kind in o.get("data", {}) for o in outputs for kind in PICTURES)  # a picture per notebook
    assert any('class="rp-dialog"' in o.get("data", {}).get("text/html", "") for o in outputs)  # a transcript


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebooks_carry_the_outputs_of_a_real_run(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in cells), "execute the notebook and save it with its outputs"
    outputs = [o for c in cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert path.stem in WITHOUT_PICTURE or any(kind in o.get("data", {}) for o in outputs for kind in PICTURES)
    assert not any("scripted:auto" in "".join(o.get("text", "")) for o in outputs), "outputs of a scripted run"


LOCAL_PATH = re.compile(r"(/home/|/Users/|/tmp/|/work/|[A-Z]:\\\\|site-packages|\.venv)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_carry_no_warning_and_no_local_path(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    texts = ["".join(o.get("text", "")) + "".join("".join(v) if isinstance(v, list) else str(v)
                                                  for k, v in o.get("data", {}).items() if k.startswith("text/"))
             for c in cells for o in c.get("outputs", [])]
    assert not [t for t in texts if "Warning" in t], "a warning in the outputs: fix its cause and re-run"
    assert not [m.group(0) for t in texts for m in [LOCAL_PATH.search(t)] if m], "a local path in the outputs"
