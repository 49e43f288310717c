"""The rule check of persona consistency on crafted turns: what it flags, and what it must not."""

from __future__ import annotations

from roleplay.dialog import Dialog, Turn
from roleplay.evaluation.persona_check import persona_flags, stated_fields

PERSONAS = {"Patient": {"name": "Robin", "role": "patient", "background": "A 52-year-old teacher."},
            "Doctor": {"name": "Dr. Lee", "role": "doctor", "age": 40}}


def flags(*turns: tuple[str, str], **metadata):
    dialog = Dialog(turns=[Turn(s, t) for s, t in turns], personas=PERSONAS, metadata=metadata)
    return [(f.turn, f.field, f.expected) for f in persona_flags(dialog)]


def test_age_read_from_a_field_or_the_background():
    assert stated_fields(PERSONAS["Patient"])["age"] == "52"
    assert flags(("Patient", "I am 35 years old and tired.")) == [(0, "age", "52")]
    assert flags(("Patient", "I'm 52 years old.")) == []
    assert flags(("Doctor", "I'm 29, just out of school.")) == [(0, "age", "40")]
    assert flags(("Patient", "I am 5 minutes late, sorry.")) == []


def test_stated_field_contradictions():
    assert flags(("Patient", "Hello, my name is Sam.")) == [(0, "name", "Robin")]
    assert flags(("Patient", "Hello, my name is Robin Smith.")) == []
    assert flags(("Doctor", "My name is Dr. Lee, welcome.")) == []


def test_claiming_another_speakers_identity():
    assert flags(("Patient", "Hi"), ("Doctor", "Hello"), ("Patient", "I am your doctor, take a seat.")) == \
        [(2, "role", "patient")]
    assert flags(("Doctor", "I'm Robin, how can I help?")) == [(0, "name", "Dr. Lee")]
    assert flags(("Doctor", "I am a doctor at this clinic.")) == []  # its own role
    assert flags(("Patient", "I am feeling worse, doctor.")) == []


def test_user_goal_facts_count_as_the_users_stated_fields():
    goal = {"goal": {"request": "book", "facts": {"room": "Blue Room"}}}
    assert flags(("Patient", "My room is the Green Room."), user=goal) == [(0, "room", "Blue Room")]
    assert flags(("Patient", "My room is Blue Room."), user=goal) == []
