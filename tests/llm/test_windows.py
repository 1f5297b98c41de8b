"""Windows of a long document: cover it, end on boundaries, overlap, split in halves."""

from __future__ import annotations

import itertools

from llmcode.llm.windows import halves, split_windows


def long_text(paragraphs: int = 60) -> str:
    return "\n\n".join(
        f"P: Paragraph {i} opens here. It says a second thing about topic {i}. "
        f"And a third sentence closes paragraph {i}."
        for i in range(paragraphs)
    )


def test_windows_cover_every_character_in_order_and_hold_the_text_they_say():
    text = long_text()
    windows = split_windows(text, 1000)
    assert len(windows) > 5
    assert windows[0].start == 0 and windows[-1].end == len(text)
    for window, following in itertools.pairwise(windows):
        assert following.start <= window.end  # no gap
        assert following.start > window.start  # progress
    assert all(text[w.start : w.end] == w.text and len(w) <= 1000 for w in windows)


def test_windows_end_on_paragraph_breaks_and_overlap_the_next():
    text = long_text()
    windows = split_windows(text, 1000, overlap=200)
    for window, following in itertools.pairwise(windows):
        assert text[window.end - 2 : window.end] == "\n\n"
        assert following.start < window.end  # overlapping
        assert text[following.start - 2 : following.start] == "\n\n"


def test_a_text_without_paragraphs_is_cut_after_sentences_and_one_without_spaces_at_the_limit():
    sentences = " ".join(f"Sentence number {i} is here." for i in range(200))
    windows = split_windows(sentences, 500)
    assert all(w.text.rstrip().endswith(".") for w in windows[:-1])
    solid = "x" * 1234
    cut = split_windows(solid, 500, overlap=0)
    assert [len(w) for w in cut] == [500, 500, 234]


def test_a_short_text_is_one_window():
    assert [(w.start, w.end) for w in split_windows("Short. Text.", 1000)] == [(0, 12)]


def test_halves_split_near_the_middle_on_a_boundary_keeping_document_offsets():
    text = long_text(10)
    window = split_windows(text, 10_000)[0]
    first, second = halves(window)
    assert first.start == 0 and first.end == second.start and second.end == len(text)
    assert text[first.end - 2 : first.end] == "\n\n"
    assert abs(first.end - len(text) / 2) < len(text) / 4
