import pytest

from roleplay import Dialog, StopReason, Turn
from roleplay.conditions import AllOf, AnyOf, EndSignal, MaxTurns, Predicate, Timeout


def dialog_with(*texts: str, end_last: bool = False) -> Dialog:
    turns = [Turn("A", t) for t in texts]
    if end_last and turns:
        turns[-1].metadata["end"] = True
    return Dialog(turns=turns)


def test_max_turns():
    assert MaxTurns(2).check(dialog_with("a"), 0) is None
    assert MaxTurns(2).check(dialog_with("a", "b"), 0) is StopReason.MAX_TURNS
    with pytest.raises(ValueError):
        MaxTurns(0)


def test_end_signal_reads_last_turn_only():
    assert EndSignal().check(dialog_with("a", "b"), 0) is None
    assert EndSignal().check(dialog_with("a", "b", end_last=True), 0) is StopReason.END_SIGNAL
    assert EndSignal().check(Dialog(), 0) is None


def test_predicate_over_dialog():
    said_bye = Predicate(lambda d: "bye" in d.turns[-1].text.lower())
    assert said_bye.check(dialog_with("hello"), 0) is None
    assert said_bye.check(dialog_with("hello", "Bye now"), 0) is StopReason.PREDICATE


def test_timeout_and_time_limit():
    assert Timeout(5).check(Dialog(), 4.9) is None
    assert Timeout(5).check(Dialog(), 5.0) is StopReason.TIMEOUT
    assert (MaxTurns(3) | Timeout(9) | Timeout(4)).time_limit() == 4
    assert MaxTurns(3).time_limit() is None
    with pytest.raises(ValueError):
        Timeout(0)


def test_or_reports_first_holding_reason_and_flattens():
    combo = MaxTurns(5) | EndSignal() | Predicate(lambda d: True)
    assert isinstance(combo, AnyOf) and len(combo.parts) == 3
    assert combo.check(dialog_with("a", end_last=True), 0) is StopReason.END_SIGNAL
    assert combo.check(dialog_with("a"), 0) is StopReason.PREDICATE


def test_and_needs_all():
    both = MaxTurns(2) & Predicate(lambda d: "ok" in d.turns[-1].text)
    assert isinstance(both, AllOf)
    assert both.check(dialog_with("a", "b"), 0) is None
    assert both.check(dialog_with("ok"), 0) is None
    assert both.check(dialog_with("a", "ok"), 0) is StopReason.MAX_TURNS
