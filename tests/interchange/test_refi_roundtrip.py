"""Export then import is exact: random texts (emoji, combining accents, CRLF, lone CR, a leading
byte-order mark) and random passages come back with the same offsets, codes and texts.

Offsets are Unicode code points of the plain text stored in the archive; the stored text is the
item's text exactly (a text starting with U+FEFF gets one more mark in front, which readers
drop), so ``text[start:end]`` is the same passage on both sides.
"""

from __future__ import annotations

import itertools
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcode.interchange.refi import export_project, read_project
from tests.support.segment_runs import CODES, MODEL, PIECES, apart, segment_run


@st.composite
def documents(draw):
    """1–3 texts of 1–60 pieces (a piece may be several code points), some with a leading BOM,
    and each document's passages: random [start, end) with 1–2 codes, per coder."""
    docs = []
    for index in range(draw(st.integers(1, 3))):
        text = "".join(draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=60)))
        if draw(st.booleans()):
            text = "\ufeff" + text
        coded = {}
        for coder in (MODEL, "ana"):
            spans = draw(
                st.lists(
                    st.tuples(
                        st.integers(0, len(text) - 1),
                        st.integers(1, len(text)),
                        st.lists(st.sampled_from(CODES), min_size=1, max_size=2, unique=True),
                    ),
                    max_size=6,
                )
            )
            coded[coder] = apart([(s, e, c) for s, e, c in spans if s < e])
        docs.append((f"d{index}", text, coded))
    return docs


def expected(docs):
    return {
        (item_id, coder, code, start, end)
        for item_id, _, coded in docs
        for coder, spans in coded.items()
        for start, end, codes in spans
        for code in codes
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(docs=documents())
def test_export_then_import_gives_back_the_same_passages_codes_offsets_and_texts(docs):
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        run = segment_run(here / "runs", docs)
        human = pd.DataFrame(
            [
                {"item_id": item_id, "coder": "ana", "code": code, "start": s, "end": e}
                for item_id, _, coded in docs
                for s, e, codes in coded["ana"]
                for code in codes
            ],
            columns=["item_id", "coder", "code", "start", "end"],
        )
        if human.empty:  # a codes file needs a row: ana read d0 and coded nothing
            human = pd.DataFrame([{"item_id": "d0", "coder": "ana", "code": ""}])
        human.to_csv(here / "ana.csv", index=False)
        export_project(run, here / "p.qdpx", human=here / "ana.csv")
        imported = read_project(here / "p.qdpx")
    rows = {
        (r.item_id, r.coder, r.code, int(r.start), int(r.end)) for r in imported.codes.itertuples()
    }
    assert rows == expected(docs)
    texts = dict(zip(imported.items["item_id"], imported.items["text"], strict=True))
    assert texts == {item_id: text for item_id, text, _ in docs}
    for row in imported.codes.itertuples():
        if row.evidence:
            assert row.evidence == texts[row.item_id][row.start : row.end]


def test_offsets_count_code_points_and_crlf_is_two_characters(tmp_path):
    text = "\ufeffe\u0301 😀\r\nGPU 👩\u200d👩\u200d👧 out"
    start = text.index("GPU")
    docs = [("d0", text, {MODEL: [(start, start + 3, ["resources"])], "ana": []})]
    run = segment_run(tmp_path / "runs", docs)
    assert start == 7  # BOM, e, combining acute, space, emoji, CR, LF: seven code points
    export_project(run, tmp_path / "p.qdpx")
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        stored = next(archive.read(n) for n in archive.namelist() if n.startswith("sources/"))
    assert stored.startswith(b"\xef\xbb\xbf\xef\xbb\xbfe\xcc\x81")  # one mark more, then the text
    assert stored.decode("utf-8-sig") == text and b"\r\n" in stored
    imported = read_project(tmp_path / "p.qdpx")
    assert list(imported.codes[["start", "end", "evidence"]].itertuples(index=False)) == [
        (7, 10, "GPU")
    ]


def test_a_source_written_with_a_bom_by_a_tool_counts_from_the_character_after_it(tmp_path):
    qde = (
        '<Project xmlns="urn:QDA-XML:project:1.0" name="p"><CodeBook><Codes>'
        '<Code guid="c0c0c0c0-0000-4000-8000-000000000001" name="GPU" isCodable="true"/>'
        "</Codes></CodeBook><Sources>"
        '<TextSource guid="d0d0d0d0-0000-4000-8000-000000000001" name="s" '
        'plainTextPath="internal://s.txt"><PlainTextSelection '
        'guid="e0e0e0e0-0000-4000-8000-000000000001" startPosition="0" endPosition="3">'
        '<Coding guid="f0f0f0f0-0000-4000-8000-000000000001">'
        '<CodeRef targetGUID="c0c0c0c0-0000-4000-8000-000000000001"/></Coding>'
        "</PlainTextSelection></TextSource></Sources></Project>"
    )
    with zipfile.ZipFile(tmp_path / "t.qdpx", "w") as archive:
        archive.writestr("project.qde", qde)
        archive.writestr("sources/s.txt", "\ufeffGPU memory\r\n".encode())
    imported = read_project(tmp_path / "t.qdpx")
    assert imported.items["text"].tolist() == ["GPU memory\r\n"]
    assert imported.codes["evidence"].tolist() == ["GPU"]


def test_the_pieces_cover_what_the_issue_names():
    joined = "".join(PIECES)
    assert "\r\n" in joined and "\ufeff" in joined and "\u0301" in joined
    assert any(ord(ch) > 0xFFFF for ch in joined)  # outside the BMP: two UTF-16 units, one here
    assert list(itertools.islice(CODES, 2)) == ["usage", "performance"]
