"""Policy dialogues from scripted models that the coverage and export tests share."""

import json
from pathlib import Path

from roleplay.backends import register_backend, registered_backends
from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.dialog import Dialog
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DOCTOR_INTAKE = ROOT / "scenarios" / "doctor_intake.yaml"

# A tiny shop policy: a search that finds something or not, an offer answered yes or no.
TINY = """digraph shop {
  graph [start="greet"];
  greet [kind=global]; search [kind=query];
  found [kind=outcome, when=found]; empty [kind=outcome, when=empty];
  offer [kind=action]; yes [kind=answer, when=yes]; no [kind=answer, when=no];
  book [kind=action, goal=true]; sorry [kind=action];
  goodbye [kind=global, terminal=true]; oos [kind=global, anywhere=true];
  greet -> search; search -> found; search -> empty; found -> offer; empty -> sorry;
  offer -> yes; offer -> no; yes -> book; no -> goodbye; sorry -> goodbye; book -> goodbye;
  goodbye -> greet;
}
"""


def _first_action_and_no(request: ScriptedRequest) -> str:
    """The Doctor takes the first offered action; the Patient answers every question "no"."""
    props = (request.schema or {}).get("properties", {})
    if "action" in props:
        action = props["action"]["enum"][0]
        return json.dumps({"action": action, "utterance": f"I do {action}."})
    return json.dumps({"answer": "no", "utterance": "No fever."}) if "answer" in props else "No fever, no."


def doctor_intake_dialog(monkeypatch, seed: int = 2) -> Dialog:
    """One doctor-intake dialogue on its DOT graph: greet ... ask_red_flags, "no", give_advice ... goodbye."""
    if "canned" not in registered_backends():  # a fixture may build several dialogues in one test
        register_backend("canned", lambda model, options: scripted_model(fn=_first_action_and_no, seed=options.seed))
    return load_scenario(DOCTOR_INTAKE).generator(model="canned").generate(seed=seed)
