"""The facts a goal-aware STAR user takes from its instructions: its name, and the values they state.

The sentences are invented in the style of STAR's ``UserTask`` texts (not copied from the dataset).
"""

import json

import pytest

from roleplay.datasets.star._format import user_name
from roleplay.datasets.star._loader import StarDataset
from roleplay.datasets.star.user import fact_label, star_user_goal, stated_value
from roleplay.policy.user import UserGoal, UserState, relevant_fact, user_note


def spec(name, kind, readable=None, categories=None):
    """An API input as STAR's apis/apis/<task>.json lists it."""
    return {"Name": name, "Type": kind, "ReadableName": readable or name,
            **({"Categories": categories} if categories else {})}


ACCOUNT = spec("AccountNumber", "ShortString", "Account Number")
PIN = spec("PIN", "ShortString", "PIN")
BIRTH = spec("DateOfBirth", "ShortString", "Date Of Birth")
MAIDEN = spec("SecurityAnswer1", "ShortString", "Security Answer 1")
PET = spec("SecurityAnswer2", "ShortString", "Security Answer 2")
ROOM = spec("RoomNumber", "Integer", "Room Number")
ID = spec("id", "Integer")
CODE = spec("Code", "ShortString")
LOCK = spec("LockManufacturer", "ShortString", "Lock Manufacturer")
TOP, SECOND = spec("ColorOfTopCable", "ShortString", "Color Of Top Cable"), spec(
    "ColorOfSecondCable", "ShortString", "Color Of Second Cable")
FROM, TO = spec("DepartureLocation", "ShortString", "Departure Location"), spec(
    "ArrivalLocation", "ShortString", "Arrival Location")
GUESTS, PARTY = spec("NumberGuests", "Integer", "Number Guests"), spec("PartySize", "Integer", "Party Size")
HOST = spec("HostName", "ShortString", "Host Name")
REASON = spec("MeetingReason", "LongString", "Meeting Reason")
SYMPTOMS = spec("Symptoms", "LongString")
REQUEST = spec("CustomerRequest", "LongString", "Customer Request")
QUESTION = spec("QuestionNum", "Integer", "Question Number")

BANK = "You are Dana Whitfield and want to dispute a charge. Your account number is 7730112 and your PIN is 4471."
SECURITY = ("You are Dana Whitfield and want to dispute a charge. Sadly, you don't remember your account number nor "
            "your PIN. Your date of birth is 11/02/1975. For your security questions, your mother's maiden name is "
            "Ortega and your childhood pet is Biscuit.")
CABLES = ("The airlock is jammed! The drone has to pick the lock (manufactured by 'Acme Locks') and swap the "
          "positions of the Grey cable and the Pink cable.")
TRAVEL = "You are Nora and would like to travel to Elm and Fifth from Library (in a red car if possible)."
LIST = ("Make up your own story!\n\nAbout you:\n- Your name: Ivy Stone\n- Your bank account: 5512090 at Chase, but "
        "you don't know your PIN\n- Your date of birth is 03/04/1990\n\nThe assistant can:\n- Book a flight (e.g. "
        "with id 404)")


@pytest.mark.parametrize(("text", "name"), [
    ("You (Robin) want to book the Blue Room on Monday.", "Robin"),
    (BANK, "Dana Whitfield"),
    ("Your are Theo and would like to RSVP to a picnic.", "Theo"),
    ("You are Nora. You want your usual ride to 'Museum'.", "Nora"),
    ("Reserve flight with id 915. Your name is Felix.", "Felix"),
    ("Reserve flight with id 915. Your name is Felix", "Felix"),
    (LIST, "Ivy Stone"),
    ("Ask about the ride (booking id 207. You booked it under the name 'Quinn'.", "Quinn"),
    ("You are Nora and want to see Dr. Lee for today (Friday).", "Nora"),
    ("You want to see Dr. Lee for today (Friday).", None),
    ("You are anticipating 12 guests.", None),
    ("Right now you are at Library.", None),
    ("no name here", None),
    ("", None),
])
def test_user_name_reads_each_phrasing_and_nothing_else(text, name):
    assert user_name({"UserTask": text}) == name


@pytest.mark.parametrize(("input_spec", "text", "value"), [
    (ACCOUNT, BANK, "7730112"),
    (PIN, BANK, "4471"),
    (BIRTH, SECURITY, "11/02/1975"),
    (MAIDEN, SECURITY, "Ortega"),
    (PET, SECURITY, "Biscuit"),
    (ROOM, "You are Theo and you are staying in room 212 of the Harbor Inn.", "212"),
    (ID, "Reserve flight with id 915. Your name is Felix.", "915"),
    (ID, "You are Nora and your ride ID is 38. Check on your ride.", "38"),
    (ID, "The cab company forgot about your booking (id 88? Ask what is going on.", "88"),
    (CODE, "You (Ivy) are the ship's pilot. You have been given a Clearance Code: 5150.", "5150"),
    (LOCK, CABLES, "Acme Locks"),
    (TOP, CABLES, "Grey"),
    (SECOND, CABLES, "Pink"),
    (FROM, "You need a ride from 'Harbor' to 'Elm and Fifth' to reach a job fair.", "Harbor"),
    (TO, "You need a ride from 'Harbor' to 'Elm and Fifth' to reach a job fair.", "Elm and Fifth"),
    (FROM, TRAVEL, "Library"),
    (TO, TRAVEL, "Elm and Fifth"),
    (FROM, "You are Nora. You want your usual ride to 'Museum'. Right now you are at Library.", "Library"),
    (HOST, "Your are Theo and would like to RSVP. The host is Maya and the venue is the Barn.", "Maya"),
    (GUESTS, "You will be arriving at 5 pm and will bring 4 guests with you.", "4"),
    (PARTY, "Book a table at Olive for 6 people at 7 pm. Your name is Felix.", "6"),
    (REASON, "The meeting reason is 'review the roadmap'. If that time does not work, try 2 pm.",
     "review the roadmap"),
    (SYMPTOMS, "Your symptoms are a stiff neck, a fever and chills. If nothing is free, say goodbye.",
     "a stiff neck, a fever and chills"),
    (REQUEST, "You would like room service at 9 pm. Your request is: The shower is leaking. Please hurry!",
     "The shower is leaking"),
    (QUESTION, "You should start from question 4 and play 2 questions.", "4"),
    (ACCOUNT, LIST, "5512090"),
    (BIRTH, LIST, "03/04/1990"),
])
def test_stated_value_reads_each_phrasing(input_spec, text, value):
    assert stated_value(input_spec, text) == value


@pytest.mark.parametrize(("input_spec", "text"), [
    (ACCOUNT, SECURITY),                                    # "you don't remember your account number nor your PIN"
    (PIN, SECURITY),
    (PIN, LIST),                                            # "but you don't know your PIN"
    (CODE, "You (Ivy) are the ship's pilot. But you don't know the Access Code (yet)."),
    (ID, LIST),                                             # "(e.g. with id 404)" is an example, not the user's
    (ROOM, "Your room is the blue one by the lift."),       # a number input needs a number
    (TO, "You want to book a ride."),                       # "to book" names no place
    (MAIDEN, BANK),
    (spec("Mode", "Categorical", categories=["Walking", "Driving"]), "Your mode is Walking."),
    (spec("HasBalcony", "Boolean"), "Your balcony is yes."),
])
def test_stated_value_is_none_when_the_instructions_do_not_give_it(input_spec, text):
    assert stated_value(input_spec, text) is None


def test_security_answers_are_labelled_as_the_instructions_and_the_system_name_them():
    assert (fact_label(MAIDEN), fact_label(PET)) == ("Mother's maiden name", "Childhood pet's name")
    assert fact_label(ACCOUNT) == "Account Number" and fact_label(spec("Name", "Categorical")) == "Name"


@pytest.fixture()
def bank_star(tmp_path):
    """A one-task STAR folder whose API takes a bank customer's details (a bank_fraud_report-like task)."""
    (tmp_path / "dialogues").mkdir()
    task = tmp_path / "tasks" / "mini_bank"
    task.mkdir(parents=True)
    (task / "mini_bank.json").write_text(json.dumps({"task": "mini_bank", "replies": {
        "hello": "Hi.", "ask_name": "Your name?", "bank_ask_pin": "Your PIN?", "query": "Query"}, "graph": {}}))
    (tmp_path / "apis" / "apis").mkdir(parents=True)
    inputs = [spec("BankName", "Categorical", "Bank Name", ["Harbor Bank", "Pine Trust"]),
              spec("FullName", "ShortString", "Full Name"), ACCOUNT, PIN, BIRTH, MAIDEN, PET,
              spec("Report", "LongString", "Fraud Report")]
    (tmp_path / "apis" / "apis" / "mini_bank.json").write_text(json.dumps({
        "input": inputs, "output": [], "required": ["FullName", "AccountNumber", "Report"], "db": "null"}))
    return StarDataset(tmp_path)


def scenario(text):
    return {"UserTask": text, "Happy": True, "WizardCapabilities": [{"Task": "mini_bank"}]}


def test_star_user_goal_gives_the_name_and_the_stated_values(bank_star):
    goal = star_user_goal(scenario(BANK + " You bank with Pine Trust."), bank_star)
    assert goal.facts == {"Your name": "Dana Whitfield", "Bank Name": "Pine Trust", "Account Number": "7730112",
                          "PIN": "4471"}
    assert goal.needs == ["Your name", "Account Number", "Fraud Report"]
    state = UserState(turns=1)
    assert "System asks for your Account Number: it is 7730112." in user_note(goal, state, "System",
                                                                             "bank_ask_account_number")
    assert "System asks for your PIN: it is 4471." in user_note(goal, state, "System", "bank_ask_pin")


def test_star_user_goal_leaves_out_what_the_user_does_not_remember(bank_star):
    goal = star_user_goal(scenario(SECURITY), bank_star)
    assert goal.facts == {"Your name": "Dana Whitfield", "Date Of Birth": "11/02/1975",
                          "Mother's maiden name": "Ortega", "Childhood pet's name": "Biscuit"}
    assert relevant_fact(goal, "bank_ask_mothers_maiden_name") == "Mother's maiden name"
    assert relevant_fact(goal, "bank_ask_childhood_pets_name") == "Childhood pet's name"
    assert relevant_fact(goal, "bank_ask_account_number") is None and relevant_fact(goal, "ask_name") == "Your name"


@pytest.mark.parametrize(("action", "fact"), [
    ("ask_name", "Your name"),
    ("doctor_ask_doctor_name", "Doctor Name"),      # not "Your name": both say "name"
    ("doctor_ask_start_time", "Start Time Hour"),   # not "Doctor Name": "doctor" is the task, not the question
    ("hotel_ask_name", "Hotel Name"),               # the hotel's name, not the user's
    ("bank_ask_mothers_maiden_name", None),         # the user's name is no answer to it
    ("hello", None), (None, None),
])
def test_relevant_fact_matches_what_the_action_asks_for(action, fact):
    goal = UserGoal(request="x", facts={"Your name": "Nora", "Doctor Name": "Dr. Lee", "Start Day (1 - 31)": "3rd",
                                        "Start Time Hour": "4 pm", "Hotel Name": "Harbor Inn"})
    assert relevant_fact(goal, action) == fact
