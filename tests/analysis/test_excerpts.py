"""Example items for the report: evidence highlighted in context, long gaps elided."""

from llmcode.analysis.excerpts import highlight


def test_highlight_marks_spans_and_elides_long_gaps():
    text = "a" * 500 + "EVIDENCE" + "b" * 500
    segments = highlight(text, [(500, 508)], context=10)
    assert segments == [("…" + "a" * 10, False), ("EVIDENCE", True), ("b" * 10 + "…", False)]


def test_highlight_without_verified_spans_shows_the_start_of_the_text():
    assert highlight("short text", []) == [("short text", False)]
