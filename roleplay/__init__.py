"""roleplay: simulate conversations between LLM agents, each role-playing a persona.

Data flow: persona -> agent -> orchestrator (+ stop conditions) -> `Dialog` -> files / evaluation.
"""

from roleplay.dialog import Dialog, Event, StopReason, Turn

__version__ = "0.1.0"

__all__ = ["Dialog", "Event", "StopReason", "Turn", "__version__"]
