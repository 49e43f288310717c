"""Replay the hostile-input probe's reproductions (issue 36's list, one or more per root cause) as a user would.

Each case runs ``python -m roleplay ...`` in a fresh folder, in a subprocess with a time limit, and is
classified: ``hang`` (past the limit), ``traceback`` (Python's traceback on the terminal), ``data loss`` (a file
of a run folder changed that the case did not aim at), ``silent`` (exit 0 where an error was due, or the
check of the result failed), ``unclear`` (an error that does not name its cause), ``clear`` (non-zero exit
with one ``Error:`` line) or ``ok`` (a success that was due). Prints one line per case and the counts.

Server cases run against a fake OpenAI-compatible server on 127.0.0.1 in this process (stopped after each
case); full-disk cases run the CLI with ``RLIMIT_FSIZE`` 0; API cases call a public entry point in
``python -c`` and count a `ConfigError` as clear.

    PYTHONPATH=$PWD .venv/bin/python bench/hostile_probe.py
    PROBE_ROOT=/path/to/main PYTHONPATH=/path/to/main .venv/bin/python bench/hostile_probe.py   # the baseline
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(os.environ.get("PROBE_ROOT") or Path(__file__).resolve().parent.parent)
"""The checkout under test; ``PROBE_ROOT=/path/to/another/checkout`` replays the cases against that one."""
STAR = ROOT / "tests" / "fixtures" / "star_mini"
AGENTS = "agents: [{name: A, persona: {role: a}}, {name: B, persona: {role: b}}]\n"
GOOD = "name: t\nstop: {max_turns: 2}\n" + AGENTS
DOT = 'digraph g {\n graph [start="hi"];\n hi [kind=action, template="Hi"];\n bye [kind=action, goal=true];\n' \
      ' hi -> bye;\n}\n'
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)) + GOOD
SA = ["-m", "scripted:auto"]


def roleplay(*args: str, cwd: Path, limit: float = 120, full_disk: bool = False,
             server: str = "") -> tuple[str, int | None, str]:
    """Run the CLI (``python -c CODE`` when ``args`` is ``("-c", CODE)``); (class so far, exit code, output).

    ``full_disk``: every file write fails as on a full disk (``RLIMIT_FSIZE`` 0: EFBIG, Python ignores SIGXFSZ).
    ``server``: the ``openai:`` backend's URL (``$OPENAI_BASE_URL``; ``run`` has no ``--base-url``).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_BASE_URL": server}
    env.pop("ROLEPLAY_MODEL", None)
    env.pop("OPENAI_API_KEY", None)
    command = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "roleplay", *args]
    no_writes = (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))) if full_disk else None
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=limit,
                              preexec_fn=no_writes)
    except subprocess.TimeoutExpired:
        return "hang", None, ""
    output = done.stdout + done.stderr
    if "Traceback (most recent call last)" in output:
        return "traceback", done.returncode, output
    return ("clear" if done.returncode else "exit0"), done.returncode, output


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def batch_run(cwd: Path, name: str = "run", n: str = "3") -> Path:
    (cwd / "s.yaml").write_text(GOOD, encoding="utf-8")
    roleplay("batch", "s.yaml", *SA, "-n", n, "--out", name, cwd=cwd)
    return cwd / name


# --- the cases: (name, function(cwd) -> class) ------------------------------------------------------------------
def into_run(*args: str) -> Callable[[Path], str]:
    def case(cwd: Path) -> str:
        run = batch_run(cwd)
        (cwd / "g.dot").write_text(DOT, encoding="utf-8")
        before = digest(run)
        kind, _, _ = roleplay(*args, cwd=cwd)
        return "data loss" if digest(run) != before else ("silent" if kind == "exit0" else kind)
    return case


def error_due(files: dict[str, str], *args: str, full_disk: bool = False) -> Callable[[Path], str]:
    def case(cwd: Path) -> str:
        for name, text in files.items():
            (cwd / name).parent.mkdir(parents=True, exist_ok=True)
            (cwd / name).write_text(text, encoding="utf-8")
        kind, _, _ = roleplay(*args, cwd=cwd, full_disk=full_disk)
        return "silent" if kind == "exit0" else kind
    return case


def resume_after(change: Callable[[Path], None], *extra: str) -> Callable[[Path], str]:
    """A batch, a change to its folder, a resume: the resume must refuse, or produce exactly the right dialogues."""
    def case(cwd: Path) -> str:
        run = batch_run(cwd)
        change(run)
        kind, _, _ = roleplay("batch", "s.yaml", *SA, "-n", "10", "--out", "run", *extra, cwd=cwd)
        if kind != "exit0":
            return kind
        for path in (run / "dialogs").glob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:  # a damaged file left in place and counted as done
                return "silent"
            if path.stem != str(data["id"]) or data["seed"] != int(data["id"]):
                return "silent"
        lines = (run / "index.jsonl").read_text(encoding="utf-8").splitlines()
        return "ok" if sorted(json.loads(line)["id"] for line in lines) == list(range(10)) else "silent"
    return case


def corrupt(run: Path) -> None:
    (run / "dialogs" / "2.json").write_text("{half", encoding="utf-8")


def triple_index(run: Path) -> None:
    (run / "index.jsonl").write_text((run / "index.jsonl").read_text() * 3, encoding="utf-8")


def seed_without_params(cwd: Path) -> str:
    batch_run(cwd)
    (cwd / "run" / "batch.json").unlink()
    kind, _, _ = roleplay("batch", "s.yaml", *SA, "-n", "5", "--seed", "100", "--out", "run", cwd=cwd)
    return "silent" if kind == "exit0" else kind


def data_file_edited(cwd: Path) -> str:
    (cwd / "s.yaml").write_text("name: t\nstop: {max_turns: 2}\nagents: [{name: A, sample: {role: {file: c.txt}}}, "
                                "{name: B, persona: {role: b}}]\n", encoding="utf-8")
    (cwd / "c.txt").write_text("a cough\n", encoding="utf-8")
    roleplay("batch", "s.yaml", *SA, "-n", "2", "--out", "run", cwd=cwd)
    (cwd / "c.txt").write_text("a rash\n", encoding="utf-8")
    kind, _, _ = roleplay("batch", "s.yaml", *SA, "-n", "3", "--out", "run", cwd=cwd)
    return "silent" if kind == "exit0" else kind


def user_tmp_kept(cwd: Path) -> str:
    run = batch_run(cwd)
    mine = run / "dialogs" / ".mine.tmp"
    mine.write_text("mine", encoding="utf-8")
    roleplay("batch", "s.yaml", *SA, "-n", "4", "--out", "run", cwd=cwd)
    return "ok" if mine.is_file() else "data loss"


def shown_safely(cwd: Path) -> str:
    from roleplay.dialog import Dialog, Turn

    Dialog(id=1, turns=[Turn("A", "\x1b[2J\x1b]0;title\x07 hi")]).to_file(cwd / "x.json")
    kind, _, output = roleplay("show", "x.json", cwd=cwd)
    return kind if kind != "exit0" else ("silent" if "\x1b" in output or "\x07" in output else "ok")


def surrogate_saved(cwd: Path) -> str:
    from roleplay.dialog import Dialog, Turn

    try:
        Dialog(turns=[Turn("A", "x \ud800 y")]).to_file(cwd / "x.json")
    except Exception as err:  # noqa: BLE001 - the probe classifies whatever escapes
        return f"traceback ({type(err).__name__})"
    return "ok" if "\ufffd" in Dialog.from_file(cwd / "x.json").turns[0].text else "silent"


def txt_round_trip(cwd: Path) -> str:
    from roleplay.dialog import Dialog, Turn

    Dialog(turns=[Turn("A", "one\rtwo"), Turn("B", "ok")]).to_file(cwd / "x.txt")
    try:
        back = Dialog.from_file(cwd / "x.txt")
    except Exception:  # noqa: BLE001
        return "silent"
    return "ok" if [t.speaker for t in back.turns] == ["A", "B"] else "silent"


class _Fake(BaseHTTPRequestHandler):
    """An OpenAI-compatible server on 127.0.0.1 answering each POST with ``server.answer(body)``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status, headers, payload = self.server.answer(body)  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextlib.contextmanager
def serving(answer: Callable[[dict], tuple[int, dict, bytes]]) -> Iterator[str]:
    """A fake server for the time of one case; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    server.daemon_threads = True
    server.answer = answer  # type: ignore[attr-defined]
    server.handle_error = lambda request, address: None  # type: ignore[method-assign] # a client that hung up
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def said(content: str) -> tuple[int, dict, bytes]:
    return 200, {}, json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                             "finish_reason": "stop"}]}).encode()


def against_server(answer: Callable[[dict], tuple[int, dict, bytes]], *args: str,
                   check: Callable[[Path, str], bool] | None = None) -> Callable[[Path], str]:
    """``args`` (``{url}`` = the fake server) run against ``answer``; ``check``: a success that was due."""
    def case(cwd: Path) -> str:
        (cwd / "s.yaml").write_text(GOOD, encoding="utf-8")
        with serving(answer) as url:
            kind, _, output = roleplay(*(a.replace("{url}", url) for a in args), cwd=cwd, server=url)
        if check is None:
            return "silent" if kind == "exit0" else kind
        return kind if kind in ("hang", "traceback") else ("ok" if check(cwd, output) else "silent")
    return case


def saved_replacement_character(cwd: Path, output: str) -> bool:
    return any("\ufffd" in p.read_text(encoding="utf-8") for p in (cwd / "o").glob("*.json"))


def no_escape_shown(cwd: Path, output: str) -> bool:
    return "\x1b" not in output and "\\x1b[2J" in output


def corrupt_cache(cwd: Path) -> str:
    (cwd / "s.yaml").write_text(GOOD, encoding="utf-8")
    (cwd / "c").mkdir()
    (cwd / "c" / "cache.db").write_text("not a database", encoding="utf-8")
    kind, _, output = roleplay("batch", "s.yaml", *SA, "-n", "2", "--cache", "c", "--out", "b", cwd=cwd)
    if kind == "clear" and ("cache c" not in output or (cwd / "b" / "failures.jsonl").exists()):
        return "unclear"  # names neither the cache nor stops before the dialogues
    return "silent" if kind == "exit0" else kind


def api(code: str) -> Callable[[Path], str]:
    """A public entry point called with a hostile argument: a ConfigError is clear, anything else is not."""
    def case(cwd: Path) -> str:
        wrapped = f"from roleplay.errors import ConfigError\ntry:\n    {code}\nexcept ConfigError as err:\n" \
                  "    print('clear:', err)\n"
        kind, _, output = roleplay("-c", wrapped, cwd=cwd)
        return kind if kind != "exit0" else ("clear" if output.startswith("clear:") else "silent")
    return case


SCHEMA_IGNORED = against_server(lambda body: said('{"foo": 1}' if "response_format" in body else "Hello there."),
                                "batch", "doctor_intake", "-n", "2", "-m", "openai:m", "--base-url", "{url}",
                                "--out", "b", "--attempts", "1", "--max-turns", "4")
OPENAI_RUN = ("run", "s.yaml", "-m", "openai:m", "--out", "o", "--seed", "1")

CASES: dict[str, Callable[[Path], str]] = {
    "1 evaluate --out run/dialogs/1": into_run("evaluate", "run", "--out", "run/dialogs/1"),
    "1 evaluate --out run/batch": into_run("evaluate", "run", "--out", "run/batch"),
    "1 export --out run/dialogs/0.json": into_run("export", "run", "--format", "jsonl", "--out", "run/dialogs/0.json"),
    "1 export --out run/index.jsonl": into_run("export", "run", "--format", "jsonl", "--out", "run/index.jsonl"),
    "1 run --out run/dialogs": into_run("run", "s.yaml", *SA, "--out", "run/dialogs", "--seed", "1"),
    "1 report --out run/dialogs/r.html": into_run("report", "run", "--out", "run/dialogs/r.html"),
    "1 graph --svg run/index.jsonl": into_run("graph", "g.dot", "--svg", "run/index.jsonl"),
    "1 intent-chat --out someone's file": error_due({"notes.jsonl": "mine\n"}, "intent-chat", *SA, "--out",
                                                    "notes.jsonl"),
    "1 resume keeps a user's .tmp": user_tmp_kept,
    "2 copy as 007.json": resume_after(lambda run: (run / "dialogs" / "007.json").write_bytes(
        (run / "dialogs" / "0.json").read_bytes())),
    "2 copy of 0 as 7.json": resume_after(lambda run: (run / "dialogs" / "7.json").write_bytes(
        (run / "dialogs" / "0.json").read_bytes())),
    "2 corrupt indexed file": resume_after(corrupt),
    "2 index x3": resume_after(triple_index),
    "2 batch.json gone, other seed": seed_without_params,
    "2 sampling data file edited": data_file_edited,
    "7 batch -n 1e13": error_due({"s.yaml": GOOD}, "batch", "s.yaml", *SA, "-n", "10000000000000", "--out", "b"),
    "7 personas sample -n 1e8": error_due({}, "personas", "sample", "clinic_diverse", "-n", "100000000"),
    "8 YAML alias bomb": error_due({"s.yaml": BOMB}, "run", "s.yaml", *SA, "--out", "o"),
    "8 YAML 20000 deep": error_due({"s.yaml": GOOD + "x: " + "[" * 20000 + "]" * 20000 + "\n"}, "run", "s.yaml", *SA,
                                   "--out", "o"),
    "8 YAML duplicate key": error_due({"s.yaml": GOOD + "name: u\n"}, "run", "s.yaml", *SA, "--out", "o"),
    "9 weights [.nan, 1]": error_due({"s.yaml": "name: t\nagents: [{name: A, sample: {role: {choice: [a, b], "
                                                "weights: [.nan, 1]}}}, {name: B}]\n"}, "run", "s.yaml", *SA),
    "9 weights [.inf, 1]": error_due({"s.yaml": "name: t\nagents: [{name: A, sample: {role: {choice: [a, b], "
                                                "weights: [.inf, 1]}}}, {name: B}]\n"}, "personas", "sample", "s.yaml"),
    "9 call: wrong signature": error_due({"s.yaml": "name: t\nagents: [{name: A, sample: {role: {call: "
                                                    "'builtins:len'}}}, {name: B}]\n"}, "run", "s.yaml", *SA),
    "10 typo gaol=true": error_due({"g.dot": DOT.replace("goal=true", "gaol=true")}, "graph", "g.dot"),
    "10 goal=maybe": error_due({"g.dot": DOT.replace("goal=true", "goal=maybe")}, "graph", "g.dot"),
    "10 when=perhaps": error_due({"g.dot": DOT.replace("goal=true", "goal=true, when=perhaps")}, "graph", "g.dot"),
    "10 undirected graph": error_due({"g.dot": DOT.replace("digraph", "graph").replace("->", "--")}, "graph", "g.dot"),
    "11 malformed --base-url": error_due({"s.yaml": GOOD}, "batch", "s.yaml", "-m", "openai:m", "-n", "2", "--base-url",
                                         "http://127.0.0.1:x/v1", "--out", "b"),
    "12 show with escapes": shown_safely,
    "13 temperature .inf": error_due({"s.yaml": GOOD + "temperature: .inf\n"}, "run", "s.yaml", *SA, "--out", "o"),
    "13 --model ''": error_due({"s.yaml": GOOD}, "run", "s.yaml", "-m", "", "--out", "o"),
    "13 star --id 1 --task": error_due({}, "star", "generate", "--star-path", str(STAR), "--out", "o", *SA, "--id", "1",
                                       "--task", "mini_book"),
    "13 export --roles Docter=assistant": into_run("export", "run", "--format", "openai", "--out", "x.jsonl",
                                                    "--roles", "Docter=assistant"),
    "13 export --roles =user": into_run("export", "run", "--format", "openai", "--out", "x.jsonl", "--roles", "=user"),
    "13 .txt round trip with \\r": txt_round_trip,
    "5 Dialog.to_file with a lone surrogate": surrogate_saved,
    "15 graph scenarios/": error_due({"scenarios/g.dot": DOT}, "graph", "scenarios"),
    "15 personas sample doctor_patient": error_due({}, "personas", "sample", "doctor_patient"),
    "3 429 with Retry-After: nan": against_server(lambda body: (429, {"Retry-After": "nan"}, b'{"error": "slow"}'),
                                                  *OPENAI_RUN),
    "3 2 MB reply to a short request": against_server(lambda body: said("x" * 2_000_000), *OPENAI_RUN),
    "4 server ignores the schema": SCHEMA_IGNORED,
    "5 lone surrogate from the server": against_server(
        lambda body: (200, {}, b'{"choices": [{"message": {"content": "Fine \\ud800 thanks."}}]}'), *OPENAI_RUN,
        check=saved_replacement_character),
    "6 full disk: batch": error_due({"s.yaml": GOOD}, "batch", "s.yaml", *SA, "-n", "2", "--out", "b", full_disk=True),
    "6 full disk: run": error_due({"s.yaml": GOOD}, "run", "s.yaml", *SA, "--out", "o", full_disk=True),
    "11 corrupt --cache": corrupt_cache,
    "12 run's live turns with escapes": against_server(lambda body: said("\x1b[2J Hello there."), *OPENAI_RUN,
                                                       check=no_escape_shown),
    "14 text_report([1])": api("__import__('roleplay.evaluation').evaluation.text_report([1])"),
    "14 evaluation write_report(None)": api("__import__('roleplay.evaluation').evaluation.write_report(None, 'r')"),
    "14 viz write_report(None)": api("__import__('roleplay.viz').viz.write_report(None)"),
    "14 draw_policy('g.dot')": api("__import__('roleplay.viz').viz.draw_policy('g.dot')"),
    "14 dialog_html(None)": api("__import__('roleplay.viz').viz.dialog_html(None)"),
    "14 as_autogen('a doctor')": api("__import__('roleplay.interop').interop.as_autogen('a doctor', 'scripted:auto')"),
    "14 Dialog.from_file(None)": api("__import__('roleplay').Dialog.from_file(None)"),
}


def main() -> None:
    counts: Counter[str] = Counter()
    for name, case in CASES.items():
        with tempfile.TemporaryDirectory() as folder:
            kind = case(Path(folder))
        counts[kind.split(" (")[0]] += 1
        print(f"{kind:12} {name}", flush=True)
    print(f"\n{len(CASES)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
