from pathlib import Path

import pytest

from roleplay import Dialog, StopReason, Turn
from roleplay.backends.scripted import scripted_model
from roleplay.conditions import AllOf, AnyOf, EndSignal, MaxTurns, Predicate, Timeout
from roleplay.errors import ConfigError
from roleplay.generators import PersonaDialogGenerator
from roleplay.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.mark.parametrize("bad", [0, -3, "3", 2.5, True, None])
def test_max_turns_must_be_a_whole_number_of_turns(bad):
    with pytest.raises(ConfigError, match=r"max_turns must be a whole number of turns, at least 1; got .*max_turns=12"):
        MaxTurns(bad)


@pytest.mark.parametrize("bad", [0, -1, "5", True])
def test_timeout_must_be_a_positive_number(bad):
    with pytest.raises(ConfigError, match="Timeout needs a positive number of seconds"):
        Timeout(bad)


def test_turn_caps_merge_into_the_tightest():
    combo = MaxTurns(12) | MaxTurns(20) | EndSignal() | MaxTurns(15)
    assert repr(combo) == "MaxTurns(12) | EndSignal()"
    assert combo.check(dialog_with(*"abcdefghijkl"), 0) is StopReason.MAX_TURNS


def test_the_generator_applies_its_turn_cap_once(doctor, patient):
    generator = PersonaDialogGenerator(scripted_model(replies=["Hi."] * 30), doctor, patient, max_turns=5,
                                       stop=MaxTurns(5) | EndSignal())
    assert repr(generator.stop_condition()) == "MaxTurns(5) | EndSignal()"
    assert repr(generator.stop_condition(3)) == "MaxTurns(3) | EndSignal()"
    assert len(generator.generate(seed=1, max_turns=3).turns) == 3


def test_a_scenario_generator_has_one_turn_cap():
    generator = load_scenario(ROOT / "scenarios" / "doctor_patient.yaml").generator(model="scripted")
    assert repr(generator.stop_condition()).count("MaxTurns") == 1


@pytest.mark.parametrize("bad", [0, -3, "3"])
def test_generate_with_a_bad_max_turns_is_a_clear_error(doctor, patient, bad):
    generator = PersonaDialogGenerator(scripted_model(replies=["Hi."] * 30), doctor, patient)
    with pytest.raises(ConfigError, match="max_turns must be a whole number"):
        generator.generate(seed=1, max_turns=bad)
    with pytest.raises(ConfigError, match="max_turns must be a whole number"):
        PersonaDialogGenerator(scripted_model(replies=["Hi."]), doctor, patient, max_turns=bad)
