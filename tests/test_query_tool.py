"""The query tool over STAR-format APIs and generated db rows (fixture API and db)."""

import json
from pathlib import Path

import pytest

from roleplay.backends.scripted import scripted_model
from roleplay.dialog import Turn
from roleplay.errors import ConfigError
from roleplay.policy.environment import ToolEnvironment
from roleplay.policy.tools import QueryTool, generate_rows

FIXTURE = Path(__file__).parent / "fixtures" / "star_mini" / "apis"


def load(name):
    return json.loads((FIXTURE / name).read_text())


def search_api():
    """A search API over the fixture db: every input is a db field."""
    return {"input": [{"Name": "Name", "Type": "Categorical", "Categories": ["Blue Room", "Red Room"]},
                      {"Name": "HasView", "Type": "Boolean"}],
            "output": [{"Name": "Name", "Type": "Categorical"}, {"Name": "Floor", "Type": "Integer"}],
            "required": [], "db": "minidb", "function": "room_search"}


def test_rows_are_reproducible_and_cover_every_name():
    specs = load("dbs/minidb.json")
    rows = generate_rows(specs, 10, seed=4)
    assert rows == generate_rows(specs, 10, seed=4) and rows != generate_rows(specs, 10, seed=5)
    assert {r["Name"] for r in rows} == {"Blue Room", "Red Room"}
    assert all(1 <= r["Floor"] for r in rows)  # a lambda bound is not evaluated, a default is used
    assert all(set(r["Amenities"]) <= {"desk", "sofa", "tv"} for r in rows)


def test_search_filters_on_db_fields():
    tool = QueryTool(search_api(), load("dbs/minidb.json"), rows=20, seed=1)
    result = tool({"Name": "red room", "HasView": True})
    expected = [r for r in tool.rows if r["Name"] == "Red Room" and r["HasView"]]
    assert result.total == len(expected) and result.found == bool(expected)
    assert all(set(item) == {"Name", "Floor"} for item in result.items)
    assert tool({"Name": "Green Room"}).found is False


def test_missing_required_argument():
    tool = QueryTool(load("apis/mini_book.json"), load("dbs/minidb.json"))
    result = tool({"Name": "Blue Room", "RequestType": "Check"})
    assert not result.found and result.error == "missing required CustomerName"


def test_booking_matches_identity_and_availability():
    api, db = load("apis/mini_book.json"), load("dbs/minidb.json")
    args = {"Name": "Blue Room", "Day": "Monday", "CustomerName": "Robin", "RequestType": "Book"}
    booked = QueryTool(api, db, availability=1.0)(args)
    assert booked.found and booked.items[0]["Message"] == "Booked"
    assert not QueryTool(api, db, availability=0.0)(args).found
    rates = [QueryTool(api, db, seed=s, availability=0.5)(args).found for s in range(200)]
    assert 60 < sum(rates) < 140


def test_api_without_db_invents_a_plausible_answer():
    tool = QueryTool(load("apis/mini_info.json"), None)
    result = tool({"Topic": "Parking"})
    assert result.found and result.items[0]["Message"].startswith("Answer (Topic=Parking")


def test_arguments_schema():
    schema = QueryTool(load("apis/mini_book.json"), load("dbs/minidb.json")).arguments_schema()
    assert schema["properties"]["RequestType"] == {"type": "string", "enum": ["Check", "Book"]}
    assert schema["properties"]["CustomerName"] == {"type": "string", "maxLength": 80, "minLength": 1}  # never empty
    assert schema["required"] == ["Name", "CustomerName", "RequestType"]


def test_bad_api_description():
    with pytest.raises(ConfigError, match="needs 'input' and 'output'"):
        QueryTool({"inputs": []})


def booking_tool():
    api = {"input": [{"Name": "Name", "Type": "Categorical", "Categories": ["Blue Room", "Red Room"]}],
           "output": [{"Name": "Name", "Type": "Categorical"}], "required": ["Name"], "function": "room_search"}
    return QueryTool(api, load("dbs/minidb.json"), rows=6, seed=1)


async def test_the_environment_fills_the_arguments_from_the_conversation():
    model = scripted_model(replies=['{"Name": "Red Room"}'])
    turns = [Turn("User", "The red one, please."), Turn("System", "Let me check.")]
    call = await ToolEnvironment({"book": booking_tool()}).call("book", "query_check", model, turns)
    assert call.extraction_error is None and call.result.found and call.result.arguments == {"Name": "Red Room"}
    request = model.client.history[0]
    assert "User: The red one, please." in request.messages[-1][2] and "room_search" in request.messages[-1][2]
    assert request.messages[0][2] == "You fill in API arguments from a conversation."  # prompts/, not inline


async def test_the_environment_reads_only_the_latest_turns():
    model = scripted_model(replies=['{"Name": "Red Room"}'])
    turns = [Turn("User", f"turn {i}") for i in range(5)]
    await ToolEnvironment({"book": booking_tool()}, transcript_turns=2).call("book", "q", model, turns)
    prompt = model.client.history[0].messages[-1][2]
    assert "turn 3" in prompt and "turn 4" in prompt and "turn 2" not in prompt


async def test_arguments_that_never_parse_still_make_a_call_that_says_what_is_missing():
    model = scripted_model(replies=["not json"] * 5)
    call = await ToolEnvironment({"book": booking_tool()}).call("book", "query_check", model, [])
    assert call.extraction_error and not call.result.found and call.result.error == "missing required Name"


async def test_a_task_without_a_tool_succeeds_without_calling_a_model():
    model = scripted_model(replies=[])
    call = await ToolEnvironment({}).call("book", "query_check", model, [])
    assert call.result.found and call.result.api == "query_check" and model.client.history == []
