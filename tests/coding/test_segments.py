"""Documents coded in passages: windows through the test server, re-asks, merging, resume."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest

import llmcode
from llmcode.coding.job import new_config, prepare
from llmcode.coding.segments import merge_segments
from llmcode.errors import ConfigError
from llmcode.items import Item
from llmcode.llm.backends.base import ChatRequest, ChatResponse
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.passages import Segment, SegmentCode
from llmcode.store.runs import RunStore, load_run_codes
from llmcode.testserver import ServerConfig, TestServer

ROOT = Path(__file__).resolve().parents[2]
INTERVIEWS = ROOT / "examples" / "interviews"
TAXONOMY = INTERVIEWS / "ptm-interviews.yaml"
KEY = {"OPENAI_API_KEY": "sk-test"}


def long_document(directory: Path, chars: int = 40_000) -> Path:
    """One document of ``chars`` characters: numbered paragraphs of three sentences."""
    paragraphs, size, i = [], 0, 0
    while size < chars:
        paragraph = (
            f"P: In project {i} we compared benchmark scores with our own data. "
            f"The model card for release {i} said nothing about its training data. "
            f"We paid for GPU hours in month {i} and the bill surprised us."
        )
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
        i += 1
    text = "\n\n".join(paragraphs)[:chars]
    path = directory / "long.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def code_over_http(server, items, runs, **settings):
    return llmcode.code(
        TAXONOMY,
        items,
        backend="openai",
        base_url=server.base_url,
        model="test-model",
        unit="segment",
        level="leaves",
        runs_dir=runs,
        cache=False,
        **settings,
    )


def test_a_40000_character_document_codes_through_windows_with_every_passage_verified(
    tmp_path, env
):
    document = long_document(tmp_path)
    text = document.read_text(encoding="utf-8")
    assert len(text) == 40_000
    with TestServer(ServerConfig()) as server:
        run = code_over_http(server, document, tmp_path / "runs")
        asked = server.stats.chat_requests
    (record,) = run.latest_codings().values()
    assert record.status == "ok", record.problems
    assert record.attempts >= 3  # read in windows, one request each
    assert asked == record.attempts
    assert len(record.segments) > 100
    assert all(s.verified for s in record.segments)
    for segment in record.segments:
        assert text[segment.start : segment.end] == segment.quote
    # passages read twice in overlapping windows were merged: no two of one code overlap
    by_code: dict[str, list[tuple[int, int]]] = {}
    for segment in record.segments:
        for code in segment.codes:
            by_code.setdefault(code.code, []).append((segment.start, segment.end))
    for spans in by_code.values():
        spans.sort()
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans))
    # every paragraph of the document was read: the last one too
    assert max(s.end for s in record.segments) > 39_000


def test_the_dry_run_counts_the_windows_the_run_sends(tmp_path, env):
    document = long_document(tmp_path)
    config = new_config(
        TAXONOMY, document, backend="openai", model="gpt-4o-mini", unit="segment", level="leaves"
    )
    job = prepare(config, store=RunStore(tmp_path / "runs"), offline=True)
    estimate = job.estimate()
    windows = job.coder.windows(job.todo[0])  # type: ignore[attr-defined]
    assert estimate.windows == len(windows) == estimate.requests >= 3
    assert estimate.as_dict()["tokens_per_window"] < 8192
    with TestServer(ServerConfig()) as server:
        run = code_over_http(server, document, tmp_path / "runs2")
    (record,) = run.latest_codings().values()
    assert record.attempts == estimate.windows


def test_an_invented_passage_is_reasked_and_the_answer_again_is_verified(tmp_path, env):
    document = INTERVIEWS / "transcripts" / "p4-mobile.txt"
    with TestServer(ServerConfig(fault_script=["invented_quote"])) as server:
        run = code_over_http(server, document, tmp_path)
    (record,) = run.latest_codings().values()
    assert record.status == "ok" and record.attempts == 2
    assert record.segments and all(s.verified for s in record.segments)


def test_a_passage_still_invented_after_the_reasks_is_flagged_never_kept_silently(tmp_path, env):
    document = INTERVIEWS / "transcripts" / "p4-mobile.txt"
    script = ["invented_quote"] * 3
    with TestServer(ServerConfig(fault_script=script)) as server:
        run = code_over_http(server, document, tmp_path, max_reasks=2)
    (record,) = run.latest_codings().values()
    assert record.status == "unverified" and record.attempts == 3
    assert any("not in the text" in p for p in record.problems)
    invented = [s for s in record.segments if not s.verified]
    assert invented and invented[0].start is None
    assert load_run_codes(run).empty or load_run_codes(run)["code"].isna().all()
    exported = load_run_codes(run, unverified=True)
    assert exported["start"].isna().all() and exported["quote"].notna().all()


def test_passages_of_one_code_that_overlap_merge_and_those_sharing_a_stretch_share_it():
    text = "a" * 100
    found = [
        Segment(
            start=10, end=40, quote="", codes=[SegmentCode(code="x", confidence=0.5)], verified=True
        ),
        Segment(
            start=30, end=60, quote="", codes=[SegmentCode(code="x", confidence=0.9)], verified=True
        ),
        Segment(start=10, end=60, quote="", codes=[SegmentCode(code="y")], verified=True),
        Segment(start=60, end=70, quote="", codes=[SegmentCode(code="x")], verified=True),
        Segment(quote="made up", codes=[SegmentCode(code="x")]),
    ]
    merged = merge_segments(found, text)
    spans = [(s.start, s.end, sorted(c.code for c in s.codes)) for s in merged]
    assert spans == [(10, 60, ["x", "y"]), (60, 70, ["x"]), (None, None, ["x"])]
    assert next(c for c in merged[0].codes if c.code == "x").confidence == 0.9


async def code_and_close(job):
    try:
        return await job.code()
    finally:
        await job.aclose()


class CutOff(FakeBackend):
    """Answers a long window with JSON cut off at the token limit; quotes a short one."""

    def __init__(self, longest: int = 2500) -> None:
        super().__init__(responder=lambda request: "")
        self.sizes: list[int] = []
        self.longest = longest

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls.append(request)
        user = request.messages[-1]["content"]
        text = user.split(">", 1)[1].rsplit("</item>", 1)[0].strip()
        self.sizes.append(len(text))
        if len(text) > self.longest:
            return ChatResponse(content='{"passages": [{"passage": "P: In', finish_reason="length")
        first = text.split(". ")[0] + "."
        content = json.dumps(
            {
                "passages": [
                    {
                        "passage": first,
                        "codes": ["licensing"],
                        "justification": "j",
                        "confidence": 0.5,
                    }
                ]
            }
        )
        return ChatResponse(content=content, finish_reason="stop")


def test_a_window_whose_answer_does_not_fit_is_split_again_never_truncated(tmp_path):
    document = long_document(tmp_path, 6000)
    backend = CutOff()
    config = new_config(
        TAXONOMY, document, unit="segment", level="leaves", evidence="free", max_reasks=0
    )
    job = prepare(config, store=RunStore(tmp_path / "runs"), backends=[backend], cache=False)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    assert record.status == "ok", record.problems
    assert backend.sizes[0] > 2500 and all(size <= 2500 for size in backend.sizes[1:])
    assert sum(size for size in backend.sizes[1:]) >= 6000 - 10  # halves cover the window


def test_resume_codes_the_documents_left_and_refuses_another_unit(tmp_path, env):
    runs = tmp_path / "runs"
    empty = {"passages": []}
    failing = FakeBackend(answers=[empty, empty], responder=lambda request: ValueError("down"))
    config = new_config(
        TAXONOMY,
        INTERVIEWS / "transcripts",
        unit="segment",
        level="leaves",
        backend="openai",
        model="test-model",
        evidence="free",
        concurrency=1,
    )
    job = prepare(config, store=RunStore(runs), backends=[failing], cache=False, run_id="seg")
    asyncio.run(job.code())
    first = job.run.latest_codings()  # type: ignore[union-attr]
    assert sorted(r.status for r in first.values()) == ["error"] * 3 + ["ok"] * 2
    with pytest.raises(ConfigError, match="`unit`"):
        prepare(store=RunStore(runs), resume="seg", changes={"unit": "item"})
    with TestServer(ServerConfig()) as server:
        job = prepare(
            store=RunStore(runs),
            resume="seg",
            changes={"base_url": server.base_url},
            force=True,
            cache=False,
        )
        manifest = asyncio.run(code_and_close(job))
    assert manifest.status == "complete" and manifest.counts["ok"] == 5
    assert manifest.config.inputs.unit == "segment"
    frame = load_run_codes(job.run)  # type: ignore[arg-type]
    assert set(frame["item_id"]) == {f.stem for f in (INTERVIEWS / "transcripts").iterdir()}


def test_settings_coding_in_passages_does_not_take_are_refused_by_name(tmp_path):
    config = new_config(
        TAXONOMY, INTERVIEWS / "transcripts", unit="segment", samples=3, backend="openai", model="m"
    )
    with pytest.raises(ConfigError, match="`samples`"):
        prepare(config, store=RunStore(tmp_path), offline=True)


def test_a_codebook_too_large_for_the_context_is_refused_naming_the_setting(tmp_path):
    config = new_config(
        TAXONOMY,
        INTERVIEWS / "transcripts",
        unit="segment",
        level="leaves",
        backend="openai",
        model="m",
        context_tokens=1024,
    )
    with pytest.raises(ConfigError, match="context") as caught:
        prepare(config, store=RunStore(tmp_path), offline=True)
    assert "context_tokens" in (caught.value.hint or "")


def test_a_document_item_is_the_unit_coded_whole_by_default(tmp_path):
    config = new_config(TAXONOMY, INTERVIEWS / "transcripts", backend="openai", model="m")
    assert config.inputs.unit == "item"
    job = prepare(config, store=RunStore(tmp_path), offline=True)
    assert type(job.coder).__name__ == "Coder"
    assert isinstance(job.todo[0], Item)


def test_a_half_whose_answer_is_cut_off_again_is_a_failed_window_not_split_forever(tmp_path):
    document = long_document(tmp_path, 6000)
    backend = CutOff(longest=100)  # every answer is cut off
    config = new_config(
        TAXONOMY, document, unit="segment", level="leaves", evidence="free", max_reasks=0
    )
    job = prepare(config, store=RunStore(tmp_path / "runs"), backends=[backend], cache=False)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    windows = len(job.coder.windows(job.todo[0]))  # type: ignore[attr-defined]
    assert len(backend.calls) == 3 * windows  # each window, then its two halves once
    assert record.status == "invalid" and len(record.problems) == 2 * windows
    assert all("not valid JSON" in problem for problem in record.problems)


def test_a_reask_sends_the_window_again_with_the_problems_not_the_long_answer(tmp_path):
    document = INTERVIEWS / "transcripts" / "p4-mobile.txt"
    invented = {
        "passages": [
            {"passage": "Nobody said this.", "codes": ["licensing"], "justification": "j",
             "confidence": 0.5}
        ]
    }  # fmt: skip
    backend = FakeBackend(answers=[invented, {"passages": []}])
    config = new_config(TAXONOMY, document, unit="segment", level="leaves", evidence="free")
    job = prepare(config, store=RunStore(tmp_path), backends=[backend], cache=False)
    asyncio.run(job.code())
    first, again = backend.calls
    assert [m["role"] for m in again.messages] == ["system", "user", "user"]
    assert (
        again.messages[:2] == first.messages and "Nobody said this" in again.messages[2]["content"]
    )
    assert again.max_tokens < first.max_tokens


def test_a_request_the_backend_refuses_as_too_long_for_its_context_is_split(tmp_path):
    from llmcode.errors import BackendError

    refusal = BackendError("request (4162 tokens) exceeds the available context size (4096 tokens)")
    backend = FakeBackend(answers=[refusal], responder=lambda request: {"passages": []})
    document = INTERVIEWS / "transcripts" / "p4-mobile.txt"
    config = new_config(TAXONOMY, document, unit="segment", level="leaves", evidence="free")
    job = prepare(config, store=RunStore(tmp_path), backends=[backend], cache=False)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    assert record.status == "ok" and len(backend.calls) == 3  # refused, then two halves
