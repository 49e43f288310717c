"""Personas: who an agent is (`model`), and casts of many different ones sampled by rules (`sampling`).

- `BasePersona` / `Persona`: typed persona data; subclass `BasePersona` for your own kind of character.
- `PersonaGenerator`: personas from one rule per field (fixed, choice, range, file line, CSV column,
  Python callable, LLM), reproducible by seed; `ContextGenerator` does the same for a dialogue's setting.
- `roleplay.personas.clinic`: ready-made `Patient` and `Doctor` classes.
"""

from roleplay.personas._context import Context, ContextGenerator
from roleplay.personas._model import BasePersona, Persona
from roleplay.personas._rules import LLM, Call, Choice, Column, Fixed, Lines, Range, Rule
from roleplay.personas._sampling import PersonaGenerator

__all__ = ["LLM", "BasePersona", "Call", "Choice", "Column", "Context", "ContextGenerator", "Fixed", "Lines",
           "Persona", "PersonaGenerator", "Range", "Rule"]
