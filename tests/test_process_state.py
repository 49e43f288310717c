"""roleplay leaves process-wide state as it found it: the umask is read, never changed at import, and a batch's
garbage-collector settings are handed back as they were, a caller's own `gc.freeze` included."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from roleplay._atomic import _umask, atomic_write_text
from roleplay.runs.batch import YOUNG_COLLECTION, batch_collector

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_package_does_not_touch_the_umask():
    probe = ("import os\ncalls = []\nreal = os.umask\nos.umask = lambda m: calls.append(m) or real(m)\n"
             "import roleplay, roleplay._atomic, roleplay.runs.folder, roleplay.cli\nprint(calls)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]"


def test_a_written_file_gets_the_mode_a_plain_open_would(tmp_path):
    mask = os.umask(0o027)
    os.umask(mask)
    assert _umask() == mask
    written = atomic_write_text(tmp_path / "a.json", "{}")
    plain = tmp_path / "b.json"
    plain.write_text("{}")
    assert written.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_the_batch_collector_hands_back_the_thresholds_and_the_freeze_it_found():
    thresholds = gc.get_threshold()
    with batch_collector():
        assert gc.get_threshold()[0] == YOUNG_COLLECTION
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_the_batch_collector_leaves_a_callers_freeze_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        made_since = [{} for _ in range(1000)]  # frozen too if the collector froze again
        with batch_collector():
            pass
        # not unfrozen (0), not frozen again (+1000); a frozen object freed meanwhile leaves the count
        assert 0 < gc.get_freeze_count() <= frozen and made_since
    finally:
        gc.unfreeze()


def test_batches_in_two_threads_share_the_collector_settings_until_the_last_one_ends():
    import threading

    thresholds = gc.get_threshold()
    first_in, first_out = threading.Event(), threading.Event()

    def first() -> None:
        with batch_collector():
            first_in.set()
            first_out.wait(timeout=30)
    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(timeout=30)
    with batch_collector():
        first_out.set()
        thread.join(timeout=30)  # the first batch ended while this one still runs: its settings stay
        assert gc.get_threshold()[0] == YOUNG_COLLECTION and gc.get_freeze_count() > 0
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
