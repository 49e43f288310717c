"""Pure text: the checks the guards and evaluation share (copies, role confusion, trims) and their settings.

Everything here is a function of strings (and a persona's fields), below the agents in the data flow, so the
agents, the guards and evaluation all import it and nothing here imports them.
"""

from roleplay.text._guard_config import HOTTEST, Guards
from roleplay.text._repetition import FORMULA_WORDS, copy_score, new_pair_share, prompt_lines, same_opening
from roleplay.text._roles import identity_terms, role_confusion
from roleplay.text._trim import TRIM_KEY, Trim, trim_of

__all__ = ["FORMULA_WORDS", "HOTTEST", "TRIM_KEY", "Guards", "Trim", "copy_score", "identity_terms",
           "new_pair_share", "prompt_lines", "role_confusion", "same_opening", "trim_of"]
