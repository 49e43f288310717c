"""`roleplay report` in a real browser: headless Debian chromium loads the page of a 60-dialogue batch.

Chromium is driven over its DevTools protocol (a websocket; `make browser` installs Debian's chromium,
nothing is downloaded at run time). The page must raise no console error or exception, a real mouse
click on a listed dialogue must open it (transcript and path on the graph), and the screenshot taken
then must not be blank. Skipped, with the reason, where chromium is not installed.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import random
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay.backends.scripted import ScriptedRequest, example_of, scripted_model
from roleplay.cli import cli
from roleplay.evaluation.judge import Judge
from roleplay.evaluation.judging import run_judging
from roleplay.evaluation.rubric import load_rubric
from roleplay.policy.graph import read_dot
from roleplay.runs.batch import run_batch
from roleplay.scenario import PolicyEntry, load_scenario

websocket = pytest.importorskip("websocket", reason="websocket-client is in the dev extra: pip install -e '.[dev]'")
Image = pytest.importorskip("PIL.Image", reason="Pillow comes with matplotlib in the dev extra")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DIALOGUES = 60
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed; `make browser` installs "
                                                           "Debian's package (needs root and apt-get)")
INTAKE = read_dot(ROOT / "scenarios" / "doctor_intake.dot")
PHRASES = ["I see, tell me more.", "It started on <Monday> & got worse.", "Thank you, doctor.",
           "The pain is behind my eyes.", "No fever, I think."]


def varied(request: ScriptedRequest) -> str:
    """Schema-valid JSON whose action is drawn at random (any node when the action is free: prompt-only)."""
    rng = random.Random(f"{len(request.messages)}|{request.last}|{request.system[:40]}")
    if not request.schema:
        return rng.choice(PHRASES)
    value = example_of(request.schema)
    action = request.schema.get("properties", {}).get("action")
    if action is not None:
        value["action"] = rng.choice(action.get("enum") or sorted(INTAKE))
    if "answer" in value:
        value["answer"] = rng.choice(["yes", "no"])
    value["utterance"] = rng.choice(PHRASES)
    return json.dumps(value)


def judge_answer(offset: int):
    """A judge whose score depends on the prompt (so two judges partly agree), with markup in its reasoning."""
    def answer(request: ScriptedRequest) -> str:
        score = 1 + (len(request.last) + offset) % 5
        return json.dumps({"reasoning": f"Turn <b>{score}</b> & the rest hang together.", "score": score})
    return answer


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """The report of 60 intake dialogues, half enforced and half prompt-only, on a randomised scripted model.

    60: more than the list's page of 50, so paging and filtering across pages are exercised; more proves nothing
    here (bench/report_size.py measures a 1,000-dialogue report)."""
    out = tmp_path_factory.mktemp("batch")
    scenario = load_scenario(ROOT / "scenarios" / "doctor_intake.yaml")
    model = scripted_model(fn=varied, name="scripted:varied")
    modes = [scenario.model_copy(update={"policy": PolicyEntry(agent="Doctor", graph="doctor_intake.dot",
                                                               enforce=enforce)}) for enforce in (True, False)]

    async def make(index: int, seed: int):
        return await modes[index % 2].generator(model=model, max_turns=12).agenerate(seed=seed, id=index)

    result = run_batch(make, DIALOGUES, out, concurrency=4, progress=False)
    assert result.done == DIALOGUES
    for name, offset in (("scripted:judge-a", 0), ("scripted:judge-b", 1)):  # two judges: scores and agreement
        judge = Judge(scripted_model(fn=judge_answer(offset), name=name), load_rubric("quality"))
        assert run_judging(judge, out, progress=False).done == DIALOGUES
    compared = CliRunner().invoke(cli, ["compare", str(out), str(out), "--embed-model", "none", "--repeats", "2"])
    assert compared.exit_code == 0, compared.output
    page = out / "report.html"
    shown = CliRunner().invoke(cli, ["report", str(out), "--graph", str(ROOT / "scenarios" / "doctor_intake.dot"),
                                     "--out", str(page)])
    assert shown.exit_code == 0, shown.output
    return page


class DevTools:
    """The smallest DevTools-protocol client: send a command, wait for its answer, keep the events."""

    def __init__(self, url: str):
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, seconds: float = 30) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = next((e for e in self.events if e.get("method") == method), None)
            if found:
                return found
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(f"no {method} within {seconds} s")

    def wait_until(self, expression: str, seconds: float = 60) -> None:
        """Poll ``expression`` in the page until it is true (the list is drawn once the data is unpacked)."""
        deadline = time.monotonic() + seconds
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} still false after {seconds} s")
            time.sleep(0.05)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def errors(self) -> list[dict]:
        return [e for e in self.events if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]


@contextmanager
def headless_chromium(profile: Path) -> Iterator[DevTools]:
    """Headless chromium with remote debugging on a free port of 127.0.0.1, stopped on exit."""
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,1600", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        tools = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            tools.call(f"{domain}.enable")
        yield tools
        tools.socket.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def browser(tmp_path):
    with headless_chromium(tmp_path / "profile") as tools:
        yield tools


def click(tools: DevTools, selector: str) -> None:
    """A real mouse click (pressed and released) in the middle of the element ``selector`` picks."""
    box = tools.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                         " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    for kind in ("mousePressed", "mouseReleased"):
        tools.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


def test_report_loads_opens_a_dialogue_on_click_and_renders(report_file, browser, tmp_path):
    browser.call("Page.navigate", url=report_file.as_uri())
    browser.wait_for("Page.loadEventFired")
    browser.wait_until("document.getElementById('rp-status').hidden")
    assert browser.evaluate("document.querySelectorAll('#rp-list tbody tr').length") == 50
    assert browser.evaluate("document.getElementById('rp-page').textContent") == f"1–50 of {DIALOGUES}"
    assert browser.evaluate("document.getElementById('rp-detail').hidden") is True

    click(browser, "#rp-list tbody tr:nth-child(2)")
    assert browser.evaluate("document.getElementById('rp-detail').hidden") is False
    assert browser.evaluate("document.getElementById('rp-detail-title').textContent").startswith("Dialogue 1 ")
    assert browser.evaluate("document.querySelectorAll('#rp-transcript .rp-turn').length") > 2
    assert browser.evaluate("document.querySelectorAll('#rp-paths .rp-overlay > *').length") > 0
    assert "&lt;Monday&gt;" in browser.evaluate("document.getElementById('rp-transcript').innerHTML")

    browser.evaluate("const s = document.getElementById('rp-f-violation'); s.value = 'yes';"
                     " s.dispatchEvent(new Event('change'))")
    with_violations = browser.evaluate("document.getElementById('rp-page').textContent")
    assert with_violations.endswith(f"(filtered from {DIALOGUES})")

    titles = browser.evaluate("[...document.querySelectorAll('section.rp-judged h2')].map(h => h.textContent)")
    assert titles == ["Judge scores", "Judge agreement", "Persona rule check", "Distance to the reference corpus"]
    assert browser.evaluate("document.querySelectorAll('section.rp-judged table tbody tr').length") > 10
    judged = browser.evaluate("document.querySelector('#rp-transcript .rp-judgement').textContent")
    assert "scripted:judge-a on quality" in judged and "Turn <b>" in judged  # escaped, shown as text

    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "report.png").write_bytes(shot)
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert image.size[0] > 500 and len(colours) > 50  # a blank page has one colour
    assert browser.errors() == []
