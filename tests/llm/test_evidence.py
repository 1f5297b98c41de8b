from hypothesis import given
from hypothesis import strategies as st

from llmcode.llm.evidence import _TRANSLATE, _Folded, candidate_quotes, locate, normalise

TEXT = "Loading the 7B checkpoint fails with\n  CUDA out of memory on a “16GB” card."


def test_an_exact_quote_is_verified_with_offsets():
    span = locate("fails with", TEXT)
    assert span.verified
    assert TEXT[span.start : span.end] == "fails with"


def test_whitespace_variants_are_verified_and_mapped_to_the_original_text():
    span = locate("fails   with CUDA out of memory", TEXT)
    assert span.verified
    assert TEXT[span.start : span.end] == "fails with\n  CUDA out of memory"


def test_typographic_quotes_and_wrapping_quote_marks_are_forgiven():
    assert locate('a "16GB" card', TEXT).verified
    assert locate('"CUDA out of memory..."', TEXT).verified


def test_an_invented_quote_is_not_verified():
    span = locate("runs fine on CPU", TEXT)
    assert not span.verified and span.start is None
    assert span.quote == "runs fine on CPU"


def test_case_and_words_must_match():
    assert not locate("cuda out of memory", TEXT).verified
    assert not locate("CUDA out of RAM", TEXT).verified


def test_a_quote_too_short_to_mean_anything_is_not_verified():
    assert not locate("a", TEXT).verified


def test_candidate_quotes_are_substrings_free_of_quotes_and_backslashes():
    text = 'Error: File "x.py", line 7\nImportError: cannot import. Try v2? Maybe C:\\tmp works.'
    quotes = candidate_quotes(text)
    assert quotes
    for quote in quotes:
        assert quote in text
        assert '"' not in quote and "\\" not in quote and "\n" not in quote
    assert "ImportError: cannot import." in quotes


def test_long_sentences_are_cut_at_a_word_boundary():
    text = "word " * 100
    (quote,) = candidate_quotes(text, max_chars=50)
    assert len(quote) <= 50 and text.startswith(quote) and not quote.endswith(" ")


@given(st.text(alphabet=st.sampled_from("ab .\t\n\u00a0\u2019\u201c\u2026\u3000\x1c\x85")))
def test_normalise_folds_whitespace_and_maps_every_character_back(text):
    folded, offsets = normalise(text)
    translated = text.translate(_TRANSLATE)
    assert len(offsets) == len(folded)
    assert "  " not in folded and folded == folded.strip(" ")
    assert offsets == sorted(set(offsets))
    for char, offset in zip(folded, offsets, strict=True):
        assert translated[offset] == char or (char == " " and translated[offset].isspace())
    assert folded.split() == translated.split()


@given(st.text(alphabet=st.sampled_from("ab .\t\n\u00a0\u2019\u201c\u2026\u3000\x1c\x85")))
def test_the_item_index_folds_and_maps_back_exactly_as_normalise(text):
    folded, offsets = normalise(text)
    index = _Folded(text)
    assert index.text == folded
    assert [index.offset(i) for i in range(len(folded))] == offsets
