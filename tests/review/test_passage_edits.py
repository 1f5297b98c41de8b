"""Widening and narrowing a passage on word and sentence boundaries, and marking a new one."""

from __future__ import annotations

import pytest

from llmcode.errors import ConfigError
from llmcode.review.passage_edits import Boundaries, Marker

TEXT = (
    "P1: Sure. We read labels from photos. Handwritten addresses, printed codes.\n"
    "\n"
    'I: How did you pick it?\n\nP1: Honestly, "from a leaderboard." Then we tested it.'
)
START = TEXT.index("We read")
END = TEXT.index("photos.") + len("photos.")


def shown(span: tuple[int, int]) -> str:
    return TEXT[span[0] : span[1]]


@pytest.fixture
def edits() -> Boundaries:
    return Boundaries(TEXT)


def test_sentences_end_after_their_closing_marks_and_at_line_breaks(edits):
    starts, ends = edits.spans("sentence")
    assert [TEXT[s:e] for s, e in zip(starts, ends, strict=True)] == [
        "P1: Sure.",
        "We read labels from photos.",
        "Handwritten addresses, printed codes.",
        "I: How did you pick it?",
        'P1: Honestly, "from a leaderboard."',
        "Then we tested it.",
    ]


@pytest.mark.parametrize(
    ("edge", "unit", "widened"),
    [
        ("end", "word", "We read labels from photos. Handwritten"),
        ("end", "sentence", "We read labels from photos. Handwritten addresses, printed codes."),
        ("start", "word", "Sure. We read labels from photos."),
        ("start", "sentence", "P1: Sure. We read labels from photos."),
    ],
)
def test_widening_takes_in_the_next_word_or_sentence_at_either_end(edits, edge, unit, widened):
    assert shown(edits.widen(START, END, edge, unit)) == widened


@pytest.mark.parametrize(
    ("edge", "narrowed"),
    [("end", "We read labels from"), ("start", "read labels from photos.")],
)
def test_narrowing_by_a_word_drops_the_first_or_last_word(edits, edge, narrowed):
    assert shown(edits.narrow(START, END, edge, "word")) == narrowed


def test_narrowing_by_a_sentence_drops_the_first_or_last_sentence(edits):
    two = (START, TEXT.index("codes.") + len("codes."))
    assert shown(edits.narrow(*two, "end", "sentence")) == "We read labels from photos."
    assert shown(edits.narrow(*two, "start", "sentence")) == "Handwritten addresses, printed codes."


def test_a_passage_cut_inside_a_word_is_completed_by_widening(edits):
    inside = (START + 4, END - 3)  # "ead labels from phot"
    assert shown(edits.widen(*inside, "start", "word")) == "read labels from phot"
    assert shown(edits.widen(*inside, "end", "word")) == "ead labels from photos."


def test_a_passage_of_one_word_or_sentence_cannot_be_narrowed_to_nothing(edits):
    word = (START, START + 2)
    for edge in ("start", "end"):
        with pytest.raises(ConfigError, match="one word"):
            edits.narrow(*word, edge, "word")
        with pytest.raises(ConfigError, match="one sentence"):
            edits.narrow(START, END, edge, "sentence")


def test_widening_stops_at_either_end_of_the_text(edits):
    with pytest.raises(ConfigError, match="first word"):
        edits.widen(0, 3, "start", "word")
    with pytest.raises(ConfigError, match="last sentence"):
        edits.widen(TEXT.index("Then"), len(TEXT), "end", "sentence")


def test_the_marker_marks_from_a_word_start_to_a_word_end():
    marker = Marker(Boundaries(TEXT), START + 4)  # inside "read": snaps to its start
    assert TEXT[marker.cursor :].startswith("read")
    marker.move("word", 1)
    assert marker.mark() is None  # the start, on "labels"
    assert shown(marker.selection) == "labels"
    marker.move("word", 1)
    marker.move("sentence", 1)  # to the end of this sentence
    assert shown(marker.selection) == "labels from photos."
    marker.move("sentence", 1)  # and of the next
    assert marker.mark() == (TEXT.index("labels"), TEXT.index("codes.") + len("codes."))


def test_the_marker_refuses_an_empty_passage():
    marker = Marker(Boundaries(TEXT), START)
    marker.mark()
    marker.move("word", -1)  # back onto the start
    marker.move("word", -1)
    assert marker.selection is not None
    marker.cursor = marker.anchor  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="empty"):
        marker.mark()
