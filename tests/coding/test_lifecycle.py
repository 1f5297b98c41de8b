"""A run's life through the library: start, finish (manifest once, with cost), resume checks."""

import asyncio
import json

import pytest

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.costs import Price
from llmcode.coding.guard import BackendUnavailable
from llmcode.coding.lifecycle import code_run, finish_run, pending_items, resume_run, start_run
from llmcode.errors import BackendError, RunStoreError
from llmcode.items import load_items
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.prompts import load_prompts
from llmcode.store.config import RunConfig
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import load_taxonomy
from tests.support import DATA, answer, quoting


def start(tmp_path, llm, **config):
    store = RunStore(tmp_path / "runs")
    config = RunConfig(taxonomy_path="tiny.yaml", items_path="items.csv", **config)
    taxonomy = load_taxonomy(DATA / "tiny.yaml")
    text = (DATA / "tiny.yaml").read_text()
    run = start_run(
        store, config, load_items(DATA / "items.csv"), taxonomy, text, load_prompts(), llm, "r1"
    )
    return store, run, Coder(taxonomy, llm, load_prompts(), config)


def test_a_library_caller_gets_the_cost_of_a_priced_model(tmp_path):
    backend = FakeBackend(responder=quoting("usage"), model="gpt-4o-mini")
    _, run, coder = start(tmp_path, backend, backend="openai", model="gpt-4o-mini")
    asyncio.run(code_items(run.items(), coder, run))
    manifest = finish_run(run, backend=backend)
    usage = manifest.usage
    expected = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.60) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected, abs=1e-6) and usage["cost_usd"] > 0
    assert run.manifest().usage["cost_usd"] == usage["cost_usd"]


def test_the_embedded_model_costs_nothing_and_an_unpriced_model_has_no_cost(tmp_path):
    _, run, _ = start(tmp_path / "a", FakeBackend(), backend="local")
    assert finish_run(run).usage["cost_usd"] == 0
    _, run, _ = start(tmp_path / "b", FakeBackend(model="mystery"), backend="openai")
    assert "cost_usd" not in finish_run(run).usage


def test_finish_writes_the_manifest_once_without_parsing_records_written_by_the_store(
    tmp_path, monkeypatch
):
    backend = FakeBackend(responder=quoting("usage"))
    _, run, coder = start(tmp_path, backend)
    asyncio.run(code_items(run.items(), coder, run))
    lines = (run.path / "codings.jsonl").read_text().splitlines()
    prompt_tokens = sum(json.loads(line)["prompt_tokens"] for line in lines)
    writes = []
    monkeypatch.setattr(Run, "write_manifest", lambda self, m: writes.append(m))
    monkeypatch.setattr(Run, "codings", lambda self: pytest.fail("a list of every record"))
    monkeypatch.setattr(
        CodingRecord, "model_validate_json", lambda *a, **k: pytest.fail("a record parsed")
    )
    finish_run(run, extra={"note": 1})
    assert len(writes) == 1
    assert writes[0].extra["note"] == 1 and writes[0].counts["ok"] == 4
    assert writes[0].usage["prompt_tokens"] == prompt_tokens > 0


def test_start_keeps_the_item_snapshot_instead_of_reading_it_back(tmp_path, monkeypatch):
    _, run, _ = start(tmp_path, FakeBackend())
    monkeypatch.setattr("llmcode.store.scan.iter_items", lambda path: pytest.fail(str(path)))
    assert [item.item_id for item in run.items()] == ["i1", "i2", "i3", "i4"]


def test_resume_refuses_a_run_of_another_kind(tmp_path):
    store, _, _ = start(tmp_path, FakeBackend())
    with pytest.raises(RunStoreError, match="closed run, not a open run"):
        resume_run(store, "r1", kind="open")
    assert [i.item_id for i in pending_items(resume_run(store, "r1"))] == ["i1", "i2", "i3", "i4"]


def test_the_first_requests_failing_on_a_bad_key_stop_the_run_interrupted(tmp_path):
    refused = BackendError("http://x/v1 answered HTTP 401: Incorrect API key provided")
    backend = FakeBackend(responder=lambda request: refused)
    _, run, coder = start(tmp_path, backend, concurrency=1, max_reasks=0)
    with pytest.raises(BackendUnavailable, match="OPENAI_API_KEY") as caught:
        asyncio.run(code_run(run, coder, run.items()))
    assert "\n" not in caught.value.message and len(backend.calls) == 3
    manifest = run.manifest()
    assert manifest.status == "interrupted" and manifest.counts["error"] == 3
    assert [i.item_id for i in pending_items(run)] == ["i1", "i2", "i3", "i4"]


def test_failures_after_a_first_success_are_recorded_per_item(tmp_path):
    answers = [answer("usage", "a"), *[BackendError("HTTP 404: no such model")] * 3]
    _, run, coder = start(tmp_path, FakeBackend(answers), concurrency=1, max_reasks=0)
    manifest = asyncio.run(code_run(run, coder, run.items()))
    assert manifest.status == "complete" and manifest.counts["error"] == 3


def test_a_run_whose_every_item_failed_is_failed(tmp_path):
    backend = FakeBackend(responder=lambda request: BackendError("HTTP 500: overloaded"))
    _, run, coder = start(tmp_path, backend, max_reasks=0)
    assert asyncio.run(code_run(run, coder, run.items())).status == "failed"


def test_a_cancelled_run_keeps_its_codings_and_counts_the_abandoned_requests(tmp_path):
    gate = asyncio.Event()

    class Slow(FakeBackend):
        async def complete(self, request):
            if len(self.calls) >= 2:
                await gate.wait()  # never set: the third and fourth requests hang
            return await super().complete(request)

    _, run, coder = start(tmp_path, Slow(responder=quoting("usage")), concurrency=2)

    async def main():
        task = asyncio.ensure_future(code_run(run, coder, run.items()))
        while len(run.codings()) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    manifest = run.manifest()
    assert manifest.status == "interrupted" and manifest.counts["ok"] == 2
    assert manifest.usage["abandoned"] == 2 and run.lock is None


PRICE = Price(input=1.0, output=4.0, cached_input=0.25, batch_discount=0.5)


def _record(item_id: str, status: str = "ok", codes=("usage",), **usage) -> CodingRecord:
    assignments = [CodeAssignment(code=c, justification="j", confidence=0.5) for c in codes]
    return CodingRecord(item_id=item_id, status=status, codes=assignments, **usage)


@pytest.mark.parametrize("block", [1 << 25, 700])
def test_the_manifest_of_a_finished_run_counts_what_a_full_parse_of_its_records_gives(
    tmp_path, monkeypatch, block
):
    """Usage, statuses (latest record wins, a foreign code makes it invalid, items outside
    the snapshot count only when skipped) and cost (batch tokens at half price, cached tokens
    at the cached price) as json.loads of every line, by hand, gives them; lines the store
    did not write (spaces, a code with a quote) and a torn last line included."""
    monkeypatch.setattr("llmcode.store.scan.BLOCK", block)  # small: blocks read both ways
    backend = FakeBackend(model="gpt-4o-mini")
    _, run, _ = start(tmp_path, backend, backend="openai", model="gpt-4o-mini")
    u = {"attempts": 1, "prompt_tokens": 1000, "completion_tokens": 100}
    run.append_codings(
        [
            _record("i1", "error", (), **u, error="HTTP 500"),
            _record("i1", **u, cached_prompt_tokens=600, cached_calls=0),
            _record("i2", codes=("usage", "zzz"), **u),  # a code outside the taxonomy
            _record("i3", **u, batch_prompt_tokens=1000, batch_completion_tokens=100),
            _record("elsewhere", **u),  # not in the snapshot: not counted, its usage is
            _record("gone", "skipped", ()),
        ]
    )
    odd = _record("i4", codes=('we"ird',), attempts=2, prompt_tokens=7, completion_tokens=3)
    with (run.path / "codings.jsonl").open("a") as handle:
        handle.write(json.dumps(json.loads(odd.model_dump_json()), indent=None) + "\n")
        handle.write(_record("i4", "unverified", **u).model_dump_json() + "\n")
        handle.write(_record("i2", **u).model_dump_json()[:-30])  # torn by a kill
    manifest = finish_run(run, prices={"gpt-4o-mini": PRICE})

    whole = [json.loads(line) for line in (run.path / "codings.jsonl").read_text().split("\n")[:-1]]
    known = {"usage", "performance", "slow", "inaccurate", "resources", "none"}
    latest = {}
    for row in whole:
        foreign = any(c["code"] not in known for c in row["codes"])
        latest[row["item_id"]] = "invalid" if foreign else row["status"]
    counted = {i: s for i, s in latest.items() if i in {"i1", "i2", "i3", "i4"} or s == "skipped"}
    assert counted == {
        "i1": "ok",
        "i2": "invalid",
        "i3": "ok",
        "i4": "unverified",
        "gone": "skipped",
    }
    total = {k: sum(row[k] for row in whole) for k in ("prompt_tokens", "completion_tokens")}
    cached = sum(row["cached_prompt_tokens"] for row in whole)
    batch = (1000, 100)
    online = (total["prompt_tokens"] - batch[0], total["completion_tokens"] - batch[1])
    cost = ((online[0] - cached) * 1.0 + cached * 0.25 + online[1] * 4.0) / 1e6
    cost += (batch[0] * 1.0 + batch[1] * 4.0) / 1e6 * 0.5
    assert manifest.counts == {"ok": 2, "unverified": 1, "invalid": 1, "error": 0, "skipped": 1}
    assert manifest.usage == {
        **total,
        "cached_prompt_tokens": cached,
        "calls": sum(row["attempts"] for row in whole),
        "cached_calls": 0,
        "items": 5,
        "abandoned": 0,
        "batch_prompt_tokens": 1000,
        "batch_completion_tokens": 100,
        "cost_usd": round(cost, 6),
    }
    assert run.manifest().usage == manifest.usage and run.manifest().counts == manifest.counts
