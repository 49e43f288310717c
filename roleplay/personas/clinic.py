"""Ready-made persona classes for medical role-play, usable from YAML as ``roleplay.personas.clinic:Patient``.

They show what a `BasePersona` subclass gives a sampled cast: typed fields (an ``age`` that is an int
between 0 and 120), which the rules must respect and an LLM-filled field is constrained to.
"""

from __future__ import annotations

from pydantic import Field

from roleplay.personas._model import BasePersona

__all__ = ["Doctor", "Patient"]


class Patient(BasePersona):
    """Someone who comes to a clinic with a complaint."""

    name: str = Field(min_length=1)
    role: str = "patient"
    age: int = Field(ge=0, le=120)
    gender: str = ""
    occupation: str = ""
    complaint: str = Field(default="", description="What brings the patient in, in their own words.")
    history: str = Field(default="", description="Relevant medical history, allergies, medication.")
    personality: str = Field(default="", description="How the patient talks and behaves.")
    rules: str = "Only describe your own symptoms; you do not know medicine."

    def situation(self) -> str:
        """The complaint that brings the patient in."""
        return self.complaint


class Doctor(BasePersona):
    """A clinician who interviews a patient."""

    name: str = Field(min_length=1)
    role: str = "doctor"
    specialty: str = "family medicine"
    years_of_experience: int = Field(default=10, ge=0, le=60)
    style: str = Field(default="", description="How the doctor talks with patients.")
    rules: str = ""
