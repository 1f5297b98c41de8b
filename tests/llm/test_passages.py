"""Passages of a window's answer: located in the text, invented ones flagged, codes checked."""

from __future__ import annotations

import json

from llmcode.llm.passages import check_passages, passage_schema
from llmcode.llm.windows import Window

DOCUMENT = 'Intro.\n\nP: We said "it works"   fine. Then it broke.\n\nP: Costs went up.'
CODES = ["quality", "costs"]


def window_of(start: int, end: int) -> Window:
    return Window(start, end, DOCUMENT[start:end])


def answer(*passages: tuple[str, list[str]]) -> str:
    return json.dumps(
        {
            "passages": [
                {"passage": p, "codes": c, "justification": "why", "confidence": 0.7}
                for p, c in passages
            ]
        }
    )


def test_a_passage_is_located_to_document_offsets_forgiving_spaces_and_typographic_quotes():
    window = window_of(8, len(DOCUMENT))
    checked = check_passages(
        answer(("We said \u201cit works\u201d fine.", ["quality"])), window, CODES, True
    )
    assert not checked.problems and not checked.fatal
    (segment,) = checked.segments
    assert segment.verified
    assert DOCUMENT[segment.start : segment.end] == 'We said "it works"   fine.'
    assert segment.quote == DOCUMENT[segment.start : segment.end]


def test_an_invented_passage_is_a_problem_and_kept_flagged_without_offsets():
    window = window_of(0, len(DOCUMENT))
    checked = check_passages(answer(("Costs went down.", ["costs"])), window, CODES, True)
    assert checked.problems and "not in the text" in checked.problems[0]
    (segment,) = checked.segments
    assert not segment.verified and segment.start is None and segment.quote == "Costs went down."


def test_unknown_codes_and_several_codes_under_a_single_label_taxonomy_are_problems():
    window = window_of(0, len(DOCUMENT))
    checked = check_passages(
        answer(("Costs went up.", ["costs", "quality", "made_up"])), window, CODES, False
    )
    assert any("made_up" in p for p in checked.problems)
    assert any("single-label" in p for p in checked.problems)
    assert [c.code for c in checked.segments[0].codes] == ["costs"]


def test_an_answer_that_is_not_json_is_fatal():
    checked = check_passages("{", window_of(0, 5), CODES, True)
    assert checked.fatal and "not valid JSON" in checked.problems[0]


def test_the_schema_allows_no_passage_and_constrains_codes_and_choices():
    schema = passage_schema(CODES, False, ["Costs went up."])
    item = schema["properties"]["passages"]["items"]
    assert "minItems" not in schema["properties"]["passages"]
    assert item["properties"]["codes"]["items"]["enum"] == CODES
    assert item["properties"]["codes"]["maxItems"] == 1
    assert item["properties"]["passage"]["enum"] == ["Costs went up."]
