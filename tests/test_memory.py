"""Agent memory policies on scripted models: window (explicit), summary (an audited event, reproducible), facts pin."""

import re

import pytest

from roleplay.backends._base import CONTEXT_MARGIN, Model
from roleplay.backends.options import BackendOptions
from roleplay.backends.scripted import ScriptedClient
from roleplay.errors import ConfigError
from roleplay.generators import PersonaDialogGenerator
from roleplay.guards import Guards
from roleplay.memory import MemoryPolicy, stated_facts
from roleplay.personas import Persona
from roleplay.usage import MEMORY, dialog_usage

FACT = "ZX-4471"
CONTEXT = 260  # words: the scripted client counts a word as a token


def customer_and_clerk(seed: int, context: int = CONTEXT) -> tuple[Model, list]:
    """One scripted model for both: the customer plants a fact on its first turn and restates it, from what
    its prompt holds, on its 25th; summaries (asked for in their own system prompt) leave the fact out."""
    requests: list = []
    customer_turns = []

    def script(request):
        requests.append(request)
        if request.system.startswith("You keep notes"):
            return "They talked about a booking and the weather."
        if request.system.startswith("You are Clerk"):
            return "Thank you, let me check a few more details about your booking with our system now please."
        own = len(customer_turns)
        customer_turns.append(request)
        if own == 0:
            return f"My booking reference is {FACT}."
        if own == 24:
            found = re.search(r"ZX-\d{4}", " ".join(text for _, _, text in request.messages))
            return f"As I said, my booking reference is {found.group(0)}." if found else "I do not remember it."
        return "Yes, that is right, and I would like a window seat too."
    model = Model(ScriptedClient(fn=script, seed=seed), name="scripted", backend="scripted",
                  options=BackendOptions(seed=seed, max_tokens=30), context_size=context)
    return model, requests


def long_dialogue(memory: MemoryPolicy | None, seed: int = 5, window: int = 40):
    model, requests = customer_and_clerk(seed)
    generator = PersonaDialogGenerator(
        model, Persona(name="Clerk", role="booking clerk"), Persona(name="Customer", role="traveller"),
        max_turns=52, context_window=window, memory=memory, guards=Guards(enabled=False))
    return generator.generate(seed=seed), requests


def restated(dialog) -> bool:
    return FACT in dialog.turns[49].text


def test_window_forgets_and_says_so_in_the_turn():
    dialog, requests = long_dialogue(None)
    assert not restated(dialog)
    notes = [t.metadata.get("memory") for t in dialog.turns]
    assert notes[-1]["policy"] == "window" and notes[-1]["fitted_away"] > 0
    assert not [e for e in dialog.events if e.type == MEMORY]
    assert not [r for r in requests if r.system.startswith("You keep notes")]  # no summary was asked for


def test_summary_replaces_old_turns_with_an_audited_event_that_a_rerun_repeats():
    dialog, _ = long_dialogue(MemoryPolicy(kind="summary"))
    events = [e for e in dialog.events if e.type == MEMORY]
    assert events and all(e.data["policy"] == "summary" and e.data["replaced"] > 0 for e in events)
    assert {e.data["agent"] for e in events} == {"Clerk", "Customer"}
    assert events[0].data["text"] == "They talked about a booking and the weather."
    assert events[0].data["seed"] is not None and events[0].data["usage"]["calls"] == 1
    memory_lines = [line for line in dialog_usage(dialog) if line.source == MEMORY]
    assert sum(line.calls for line in memory_lines) == len(events)  # counted apart from the turns
    again, _ = long_dialogue(MemoryPolicy(kind="summary"))
    assert [e.data for e in again.events] == [e.data for e in events]
    assert not restated(dialog)  # this summary left the fact out ...


def test_facts_pin_keeps_the_agents_own_fact_whatever_is_summarised():
    dialog, requests = long_dialogue(MemoryPolicy(kind="summary", facts=True))
    assert restated(dialog)  # ... the pin kept it
    late = [r for r in requests if r.system.startswith("You are Customer")][-1]
    pinned = [text for role, _, text in late.messages if role == "system" and "What you said" in text]
    assert pinned and FACT in pinned[0]


def test_every_prompt_fits_the_context_with_room_for_the_reply():
    for memory in (None, MemoryPolicy(kind="summary", facts=True)):
        dialog, requests = long_dialogue(memory)
        sizes = [sum(len(text.split()) for _, _, text in r.messages) for r in requests]
        assert max(sizes) <= CONTEXT - 30 - CONTEXT_MARGIN and len(dialog.turns) == 52


def test_summary_also_triggers_on_the_message_window():
    dialog, _ = long_dialogue(MemoryPolicy(kind="summary", keep_recent=2), window=6)
    assert [e for e in dialog.events if e.type == MEMORY]


def test_stated_facts_keeps_numbers_and_commitments_once():
    texts = ["Hello there. My booking reference is ZX-4471.", "I will call you tomorrow. Nice weather.",
             "My booking reference is ZX-4471."]
    assert stated_facts(texts, 8) == ["My booking reference is ZX-4471.", "I will call you tomorrow."]
    assert stated_facts(texts, 1) == ["I will call you tomorrow."]


@pytest.mark.parametrize("bad, message", [({"kind": "forever"}, "kind"), ({"keep_recent": 0}, "keep_recent"),
                                          ({"facts": "yes please"}, "facts")])
def test_bad_memory_policies(bad, message):
    with pytest.raises(ConfigError, match=message):
        MemoryPolicy(**bad)


def test_memory_for_an_unknown_agent_or_of_the_wrong_type(doctor, patient):
    with pytest.raises(ConfigError, match="not among the agents"):
        PersonaDialogGenerator("scripted:auto", doctor, patient, memory={"Nurse": MemoryPolicy()})
    with pytest.raises(ConfigError, match="must be a MemoryPolicy"):
        PersonaDialogGenerator("scripted:auto", doctor, patient, memory="summary")


def test_a_scenario_chooses_memory_per_agent(tmp_path):
    from roleplay.scenario import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("name: s\nmodel: scripted:auto\nagents:\n  - {name: A, persona: {name: A}}\n"
                    "  - {name: B, persona: {name: B}}\nmemory:\n  A: {kind: summary, facts: true}\n")
    generator = load_scenario(path).generator()
    assert generator.memory == {"A": MemoryPolicy(kind="summary", facts=True)}
    path.write_text(path.read_text().replace("A: {kind: summary, facts: true}", "A: {kind: forever}"))
    with pytest.raises(ConfigError, match="memory"):
        load_scenario(path)
