"""Rubric judges on scripted models: valid answers, retries on invalid ones, clear failures, rubric errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from roleplay.backends.scripted import ScriptedRequest, scripted_model
from roleplay.dialog import Dialog, Turn
from roleplay.evaluation.judge import Judge, JudgeFailed, score_schema, user_goal
from roleplay.evaluation.rubric import BUNDLED, Rubric, RubricError, load_rubric


def chat(**metadata) -> Dialog:
    return Dialog(id=7, turns=[Turn("Patient", "I have a headache."), Turn("Doctor", "Since when?"),
                               Turn("Patient", "Three days."), Turn("Doctor", "Take rest.")],
                  personas={"Patient": {"name": "Robin", "role": "patient"},
                            "Doctor": {"name": "Doctor", "role": "family doctor"}}, metadata=metadata)


def fixed(score: int, reasoning: str = "Because.") -> scripted_model:
    return scripted_model(fn=lambda request: json.dumps({"reasoning": reasoning, "score": score}))


def judge_with(fn, rubric: str = "quality") -> Judge:
    return Judge(scripted_model(fn=fn), load_rubric(rubric))


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_rubrics_load_with_anchored_scales(name):
    rubric = load_rubric(name)
    assert rubric.name == name and rubric.dimensions
    for dimension in rubric.dimensions:
        low, high = dimension.scale
        assert low in dimension.anchors and high in dimension.anchors


def test_fixed_scores_give_one_score_per_unit_with_reasoning_and_tokens():
    judge = Judge(fixed(4, "Turns follow each other."), load_rubric("quality"))
    judgement = asyncio.run(judge.ajudge(chat()))
    units = {(s.dimension, s.speaker, s.turn) for s in judgement.scores}
    # coherence and on_topic: the conversation; naturalness: each of 2 speakers; persona_consistency: each turn
    assert len(units) == 1 + 1 + 2 + 4 == judgement.calls == len(judgement.scores)
    assert {s.turn for s in judgement.scores if s.dimension == "persona_consistency"} == {0, 1, 2, 3}
    assert judgement.means() == {"coherence": 4, "naturalness": 4, "persona_consistency": 4, "on_topic": 4}
    assert judgement.completion_tokens == judgement.calls * len(json.dumps({"reasoning": "Turns follow each other.",
                                                                           "score": 4}).split())
    assert judgement.scores[0].reasoning == "Turns follow each other."


def test_the_judge_is_asked_with_the_scale_as_an_enum_and_sees_persona_and_anchors():
    model = fixed(3)
    judge = Judge(model, load_rubric("quality"))
    asyncio.run(judge.ajudge(chat()))
    asked = model.client.history
    assert all(r.schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5] for r in asked)
    persona_turn = next(r for r in asked if "turn [2]" in r.last)
    assert "Robin" in persona_turn.last and "5: Clearly in persona." in persona_turn.last
    assert "[3] Doctor: Take rest." in persona_turn.last


@pytest.mark.parametrize("bad", ["not json at all", json.dumps({"reasoning": "x", "score": 11}),
                                 "I'm sorry, I cannot evaluate this conversation.",
                                 json.dumps({"score": 3})])
def test_invalid_answers_are_retried_with_the_error_shown(bad):
    seen: dict[str, int] = {}

    def flaky(request: ScriptedRequest) -> str:
        key = request.messages[1][2]
        seen[key] = seen.get(key, 0) + 1
        return bad if seen[key] == 1 else json.dumps({"reasoning": "ok", "score": 2})

    model = scripted_model(fn=flaky)
    judgement = asyncio.run(Judge(model, load_rubric("quality")).ajudge(chat()))
    assert all(s.score == 2 for s in judgement.scores)
    retries = [r for r in model.client.history if len(r.messages) > 2]
    assert len(retries) == judgement.calls
    assert "That output was invalid" in retries[0].last


def test_a_judge_that_never_answers_validly_fails_naming_the_dimension_and_its_answer():
    judge = Judge(scripted_model(fn=lambda r: "I refuse to grade this."), load_rubric("social"), attempts=2)
    with pytest.raises(JudgeFailed) as caught:
        asyncio.run(judge.ajudge(chat()))
    assert "gave no valid answer on '" in str(caught.value) and "dialogue 7" in str(caught.value)
    assert caught.value.raw == "I refuse to grade this."


def test_out_of_scale_score_is_rejected_by_the_schema():
    import jsonschema

    schema = score_schema(load_rubric("social").dimensions[3])  # relationship: -5..5
    jsonschema.validate({"reasoning": "fine", "score": -5}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"reasoning": "fine", "score": 6}, schema)


def test_user_review_runs_only_with_a_user_goal_and_flags_a_simulator_error():
    judge = Judge(scripted_model(fn=lambda r: json.dumps({"reasoning": "It asked for a refund it never had.",
                                                          "score": 0 if "instructions" in r.last else 2})),
                  load_rubric("task"))
    plain = asyncio.run(judge.ajudge(chat()))
    assert plain.user_sim_error is None and plain.skipped == ["user_followed_goal: the user had no stated goal"]
    goal = {"goal": {"request": "Get a sick note.", "facts": {"name": "Robin"}}}
    assert user_goal(chat(user=goal)) == "Get a sick note. Facts it can give: name: Robin."
    judged = asyncio.run(judge.ajudge(chat(user=goal)))
    assert judged.user_sim_error is True and judged.user_sim_reason == "It asked for a refund it never had."
    review = next(s for s in judged.scores if s.dimension == "user_followed_goal")
    assert review.speaker == "Patient"  # the first speaker is the user
    star = Dialog(turns=[Turn("User", "hi"), Turn("Wizard", "hello")], scenario={"UserTask": "Book a room."})
    assert user_goal(star) == "Book a room."


def test_long_transcripts_are_cut_and_the_judgement_says_so():
    long = Dialog(id=1, turns=[Turn("A", "word " * 400), Turn("B", "short")])
    judgement = asyncio.run(Judge(fixed(3), load_rubric("quality")).ajudge(long))
    assert judgement.truncated is True


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "r", "dimensions": [{"name": "x", "question": "q", "scale": [0, 10], "anchors": {0: "bad"}}]},
     "anchors miss the scale's end(s) [10]"),
    ({"name": "r", "dimensions": [{"name": "x", "question": "q", "scale": [5, 1], "anchors": {5: "a", 1: "b"}}]},
     "scale [5, 1] must go from a lower"),
    ({"name": "r", "dimensions": [{"name": "x", "question": "q", "scale": [0, 4], "anchors": {0: "a", 4: "b",
                                                                                               9: "c"}}]},
     "anchors [9] lie outside"),
    ({"name": "r", "dimensions": [{"name": "x", "question": "q", "anchors": {0: "a", 1: "b"}}]},
     "dimensions.0.scale: Field required"),
    ({"name": "r", "dimensions": [{"name": "x", "question": "q", "scale": [0, 1], "anchors": {0: "a", 1: "b"},
                                   "scope": "sentence"}]}, "dimensions.0.scope"),
    ({"name": "r", "dimensions": []}, "dimensions: List should have at least 1 item"),
])
def test_bad_rubric_files_name_the_field(tmp_path, body, field):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert field in str(caught.value) and "bad.yaml" in str(caught.value)


def test_unknown_rubric_names_the_bundled_ones(tmp_path):
    with pytest.raises(RubricError, match="Unknown rubric 'sociall'. Use one of social, quality, task"):
        load_rubric("sociall")
    (tmp_path / "x.yaml").write_text("name: [unclosed")
    with pytest.raises(RubricError, match="not valid YAML"):
        load_rubric(tmp_path / "x.yaml")
    with pytest.raises(RubricError, match="rubric file not found"):
        load_rubric(tmp_path / "missing.yaml")


def test_rubric_objects_can_be_built_in_python():
    rubric = Rubric(name="mine", dimensions=[{"name": "polite", "question": "Polite?", "speakers": "system",
                                              "scale": [0, 1], "anchors": {0: "no", 1: "yes"}}])
    judgement = asyncio.run(Judge(fixed(1), rubric).ajudge(chat()))
    assert [(s.dimension, s.speaker) for s in judgement.scores] == [("polite", "Doctor")]


@pytest.mark.embedded
def test_the_embedded_judge_answers_on_the_scale():
    rubric = Rubric(name="one", dimensions=[{"name": "coherence", "question": "Do the turns follow each other?",
                                             "scale": [1, 5], "anchors": {1: "Not at all.", 5: "Fully."}}])
    judgement = asyncio.run(Judge("embedded", rubric).ajudge(chat()))
    assert len(judgement.scores) == 1 and judgement.scores[0].score in range(1, 6)
    assert judgement.scores[0].reasoning and judgement.completion_tokens > 0


def test_a_cached_judge_replays_its_answers_without_calling_the_model(tmp_path):
    first = Judge("scripted:auto", load_rubric("task"), cache_dir=str(tmp_path / "cache"), seed=3)
    judged = asyncio.run(first.ajudge(chat()))
    again = Judge("scripted:auto", load_rubric("task"), cache_dir=str(tmp_path / "cache"), seed=3)
    assert asyncio.run(again.ajudge(chat())) == judged
    assert again.model.client.client.history == [] and len(first.model.client.client.history) == judged.calls == 3
    other_seed = Judge("scripted:auto", load_rubric("task"), cache_dir=str(tmp_path / "cache"), seed=4)
    asyncio.run(other_seed.ajudge(chat()))
    assert len(other_seed.model.client.client.history) == 3  # another seed is another cache entry


def test_questions_about_a_dialogue_run_one_at_a_time_on_an_in_process_model():
    assert Judge("scripted:auto", load_rubric("task")).parallel == 1
    assert Judge("openai:judge", load_rubric("task"), base_url="http://127.0.0.1:9/v1").parallel == 8
    assert Judge("scripted:auto", load_rubric("task"), parallel=3).parallel == 3


def test_a_raw_newline_inside_the_reasoning_is_accepted():
    answer = '{"reasoning": "1. Not done.\n\nThe user asked twice.", "score": 1}'
    model = scripted_model(fn=lambda request: answer)
    judgement = asyncio.run(Judge(model, load_rubric("task")).ajudge(chat()))
    assert judgement.scores[0].reasoning == "1. Not done.\n\nThe user asked twice."
    assert len(model.client.history) == judgement.calls  # no retry
