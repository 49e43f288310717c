"""Which set-up a dialogue ran under: its batch variant and its policy arm, the one grouping of every table.

`roleplay evaluate` and `roleplay report` both split their tables by `setup_of`, so the same dialogues land
in the same rows in both. The arm is the policy mode the orchestrator recorded (``enforced`` or
``prompt_only``; ``-`` without a policy). A batch whose
``variants:`` holds ``policy.enforce`` plays both arms: that key is shown as the arm, not in the variant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TypeVar

from roleplay.dialog import Dialog

__all__ = ["ARM_KEY", "arm_label", "by_setup", "setup_name", "setup_of", "variant_label"]

ARM_KEY = "policy.enforce"
"""The variant key that switches between the enforced and the prompt-only arm."""

NONE = "-"
"""The label of a dialogue with no variant, or no policy."""

T = TypeVar("T")


def variant_label(dialog: Dialog) -> str:
    """The batch variant a dialogue played, as ``key=value, ...`` (``-`` for none), its arm left to `arm_label`."""
    variant = dialog.metadata.get("variant") or {}
    return ", ".join(f"{k}={v}" for k, v in sorted(variant.items()) if k != ARM_KEY) or NONE


def arm_label(dialog: Dialog) -> str:
    """The policy mode a dialogue ran in (``enforced``, ``prompt_only``), or ``-`` when it followed no policy."""
    policy = dialog.metadata.get("policy")
    mode = policy.get("mode") if isinstance(policy, dict) else dialog.metadata.get("mode")
    return str(mode) if mode else NONE


def setup_of(dialog: Dialog) -> tuple[str, str]:
    """(variant, arm): the row a dialogue belongs to in every per-set-up table."""
    return variant_label(dialog), arm_label(dialog)


def setup_name(variant: str, arm: str) -> str:
    """One label for a set-up (``temperature=0.9 · prompt_only``; ``default`` for neither), for charts and filters."""
    return " · ".join(part for part in (variant, arm) if part != NONE) or "default"


def by_setup(items: Iterable[T], setup: Callable[[T], tuple[str, str]]) -> dict[tuple[str, str], list[T]]:
    """``items`` grouped by their (variant, arm), in sorted order."""
    groups: dict[tuple[str, str], list[T]] = defaultdict(list)
    for item in items:
        groups[setup(item)].append(item)
    return dict(sorted(groups.items()))
