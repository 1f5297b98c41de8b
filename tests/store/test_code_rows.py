"""`export` of a run coded item by item streams its rows: the file is byte for byte the table the
run's records give (written out by hand here, and as the whole-table path writes it)."""

from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest

from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.checks import CodeCheck
from llmcode.llm.evidence import Span
from llmcode.quality.confidence import with_confidence
from llmcode.store import code_rows as code_rows_module
from llmcode.store import scan
from llmcode.store.export import codes_to_bytes, export_note
from llmcode.store.models import CodingRecord, RunConfig, RunManifest, Sample
from llmcode.store.runs import RunStore, load_run_codes
from tests.support import DATA

IDS = ["=cmd", "b", "c", "d", "e", "f", "g", "never"]


def code(name, confidence=0.5, justification="fits", quotes=("q",)):
    spans = [Span(quote=q, start=0, end=len(q), verified=True) for q in quotes]
    return CodeAssignment(
        code=name, justification=justification, evidence=spans, confidence=confidence
    )


def make_run(root, records, verify="off"):
    """A run of the tiny taxonomy over IDS with ``records``."""
    run = RunStore(root).create("r1")
    config = RunConfig(taxonomy_path="t", items_path="i", verify=verify, model="m-1")
    run.write_manifest(RunManifest(run_id="r1", config=config))
    shutil.copy(DATA / "tiny.yaml", run.path / "taxonomy.yaml")
    run.write_items(Item(item_id=i, text=f"text {i}") for i in IDS)
    run.append_codings(records)
    run._items = None
    return run


def mixed_records() -> list[CodingRecord]:
    """Two codes, a formula-like id and justification, quotes and a new line, a code outside
    the taxonomy, an error, an invalid answer, an item coded again after later ones (its rank
    is its first), a record of an item outside the run, no confidence, a large number."""
    return [
        CodingRecord(item_id="c", status="error", error="HTTP 500"),
        CodingRecord(
            item_id="=cmd",
            status="ok",
            codes=[
                code("usage", 0.9, '-says "so",\nthen', ("a, b", "+c")),
                code("slow", 1.0, "@x"),
            ],
        ),
        CodingRecord(item_id="b", status="unverified", codes=[code("resources", None)]),
        CodingRecord(item_id="d", status="ok", codes=[code("usage"), code("zzz")]),
        CodingRecord(item_id="e", status="invalid", problems=["no JSON"]),
        CodingRecord(item_id="outside", status="ok", codes=[code("usage")]),
        CodingRecord(item_id="c", status="ok", codes=[code("inaccurate", 1e-05, "ünï")]),
        CodingRecord(item_id="f", status="ok", codes=[code("usage", 12345678901234567.0)]),
        CodingRecord(item_id="g", status="skipped", error="empty text"),
    ]


EXPECTED_CSV = (
    "item_id,coder,code,justification,evidence,confidence,status,confidence_kind\n"
    "c,m-1,inaccurate,ünï,q,1e-05,ok,stated\n"
    '\'=cmd,m-1,usage,"\'-says ""so"",\nthen","a, b | +c",0.9,ok,stated\n'
    "'=cmd,m-1,slow,'@x,q,1.0,ok,stated\n"
    "b,m-1,resources,fits,q,,unverified,stated\n"
    "d,m-1,usage,fits,q,0.5,invalid,stated\n"
    "f,m-1,usage,fits,q,1.2345678901234568e+16,ok,stated\n"
)
"""By hand: rows in the order items first appear (c failed first, was coded last), formula
cells with an apostrophe, the code outside the taxonomy dropped and its record invalid."""


def whole_table(run) -> pd.DataFrame:
    """The table as export made it before it streamed (the records read into one frame)."""
    facts: dict = {}
    return with_confidence(load_run_codes(run, confidence=facts), run, facts=facts)


def exported(cli, run, *args) -> bytes:
    out = run.path.parent / f"out{len(args)}"
    result = cli("export", "r1", "--runs-dir", run.path.parent, *args, "-o", out)
    assert result.exit_code == 0, result.output
    return out.read_bytes()


@pytest.fixture(params=[1 << 25, 300], ids=["one block", "small blocks"])
def blocks(request, monkeypatch):
    monkeypatch.setattr(scan, "BLOCK", request.param)
    monkeypatch.setattr(code_rows_module, "CHUNK", 2)  # rows written a few at a time


def test_the_streamed_csv_is_the_table_written_by_hand(cli, tmp_path, blocks):
    run = make_run(tmp_path, mixed_records())
    assert exported(cli, run, "-f", "csv").decode() == EXPECTED_CSV
    assert codes_to_bytes(whole_table(run), "csv").decode() == EXPECTED_CSV


def test_the_export_says_what_the_whole_table_said(cli, tmp_path, blocks):
    run = make_run(tmp_path, mixed_records())
    result = cli("export", "r1", "--runs-dir", tmp_path, "-o", tmp_path / "x.csv")
    said = " ".join(result.output.split())
    note = export_note(run, whole_table(run), tmp_path / "x.csv")
    assert f"wrote {' '.join(note.split())}" in said
    assert "6 code(s) of 5 item(s)" in said
    assert "3 of the run's 8 item(s) have no codes: 1 invalid, 1 skipped, 1 not coded" in said


def sampled_records() -> list[CodingRecord]:
    """Items coded three times (vote shares as confidence), one of them with two codes."""
    votes = [Sample(codes=["usage"], status="ok")] * 2 + [Sample(codes=["slow"], status="ok")]
    return [
        CodingRecord(item_id="b", status="ok", codes=[code("usage", 2 / 3)], samples=votes),
        CodingRecord(
            item_id="=cmd",
            status="ok",
            codes=[code("usage", 1.0), code("slow", 1 / 3)],
            samples=votes,
        ),
        CodingRecord(item_id="c", status="ok", codes=[code("resources", 1.0, quotes=())]),
        CodingRecord(item_id="d", status="ok", codes=[code("usage", 1, quotes=("", "x"))]),
    ]


def logprob_records() -> list[CodingRecord]:
    """Token probabilities for some records only (the rest have none: empty cells)."""
    return [
        CodingRecord(
            item_id="b",
            status="ok",
            codes=[code("usage"), code("slow")],
            probabilities={"usage": 0.1 + 0.2, "slow": 0.25},
        ),
        CodingRecord(item_id="c", status="ok", codes=[code("resources")]),
        CodingRecord(item_id="b", status="ok", codes=[code("usage")], probabilities={"usage": 1}),
    ]


def verified_records() -> list[CodingRecord]:
    """A second look disputed one of two codes (the ``disputed`` column)."""
    check = CodeCheck(code="slow", verdict="reject", outcome="disputed")
    kept = CodeCheck(code="usage", verdict="keep")
    return [
        CodingRecord(
            item_id="b", status="ok", codes=[code("usage"), code("slow")], checks=[kept, check]
        ),
        CodingRecord(item_id="c", status="error"),
    ]


RUNS = {
    "mixed": (mixed_records, "off"),
    "samples": (sampled_records, "off"),
    "logprobs": (logprob_records, "off"),
    "second look": (verified_records, "flag"),
    "nothing coded": (lambda: [CodingRecord(item_id="b", status="error")], "off"),
}


@pytest.mark.parametrize("name", RUNS)
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_the_streamed_export_is_byte_for_byte_the_whole_table(cli, tmp_path, blocks, name, fmt):
    records, verify = RUNS[name]
    run = make_run(tmp_path, records(), verify)
    whole = whole_table(run)
    assert exported(cli, run, "-f", fmt) == codes_to_bytes(whole, fmt)
    if fmt == "parquet":  # the same table read back
        back = pd.read_parquet(run.path.parent / "out2")
        pd.testing.assert_frame_equal(back, whole, check_dtype=False)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_export_to_stdout_is_the_same_stream(cli, tmp_path, blocks, fmt):
    run = make_run(tmp_path, mixed_records())
    result = cli("export", "r1", "--runs-dir", tmp_path, "-f", fmt)
    assert result.exit_code == 0
    assert result.stdout == codes_to_bytes(whole_table(run), fmt).decode()


def test_vote_shares_and_probabilities_are_the_confidence_when_a_record_has_them(cli, tmp_path):
    run = make_run(tmp_path, sampled_records())
    table = pd.read_csv(io.BytesIO(exported(cli, run)))
    assert list(table["confidence_kind"].unique()) == ["vote share"]
    assert list(table["confidence"]) == pytest.approx([2 / 3, 1.0, 1 / 3, 1.0, 1.0])
    run = make_run(tmp_path / "lp", logprob_records())
    table = pd.read_csv(io.BytesIO(exported(cli, run)))
    assert list(table["confidence_kind"].unique()) == ["log-probability"]
    assert table["confidence"].tolist()[0] == 1.0 and table["confidence"].isna().tolist()[1]


def test_a_bad_line_stops_the_export_and_leaves_no_file(cli, tmp_path):
    run = make_run(tmp_path, mixed_records())
    path = run.path / "codings.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:3], '{"item_id":"b","status":"ok","codes":[}\n', *lines[3:]]))
    result = cli("export", "r1", "--runs-dir", tmp_path, "-o", tmp_path / "x.csv")
    assert result.exit_code == 1 and "codings.jsonl:4: not valid JSON" in result.output
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.csv.tmp").exists()
