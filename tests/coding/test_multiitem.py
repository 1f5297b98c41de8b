import asyncio
import json
import math

import pandas as pd
import pytest

from llmcode.coding.closed import Coder, code_items, code_many
from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.coding.multiitem import split_answer
from llmcode.errors import BackendError
from llmcode.items import Item, load_items
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.prompts import load_prompts
from llmcode.store.config import RunConfig
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import load_taxonomy
from tests.support import DATA, answer, quoting

ITEMS = [
    Item("a", "The model is slow on CPU."),
    Item("b", "CUDA out of memory on load."),
    Item("c", "How do I set max_length?"),
]


def coder_for(backend, **config):
    return Coder(
        load_taxonomy(DATA / "tiny.yaml"),
        backend,
        load_prompts(),
        RunConfig(taxonomy_path="t", items_path="i", **config),
    )


def backend_prompt_tokens(backend):
    """What the fake backend charged for its requests' prompts (as it counts them)."""
    return sum(sum(len(m["content"]) for m in r.messages) // 4 for r in backend.calls)


def entry(item_id, code, quote):
    return {"item_id": item_id, **answer(code, quote)}


def test_one_request_codes_several_items_and_splits_usage():
    backend = FakeBackend(
        [
            {
                "items": [
                    entry("a", "performance", "slow on CPU"),
                    entry("b", "resources", "CUDA out of memory"),
                    entry("c", "usage", "max_length"),
                ]
            }
        ]
    )
    records = asyncio.run(code_many(coder_for(backend), ITEMS))
    assert [(r.item_id, r.status, r.codes[0].code) for r in records] == [
        ("a", "ok", "performance"),
        ("b", "ok", "resources"),
        ("c", "ok", "usage"),
    ]
    assert len(backend.calls) == 1
    request = backend.calls[0]
    assert request.messages[-1]["content"].count("<item id=") == 3
    entry_schema = request.schema["properties"]["items"]["items"]
    assert entry_schema["properties"]["item_id"]["enum"] == ["a", "b", "c"]
    assert request.schema["properties"]["items"]["minItems"] == 3
    tokens = [r.prompt_tokens for r in records]  # an even split in whole tokens, none lost
    assert max(tokens) - min(tokens) <= 1 and sum(tokens) == backend_prompt_tokens(backend)


def test_a_missing_or_invalid_item_is_reasked_alone():
    backend = FakeBackend(
        [
            {
                "items": [
                    entry("a", "performance", "slow on CPU"),
                    entry("b", "resources", "made up"),
                ]
            },
            {
                "items": [
                    entry("b", "resources", "CUDA out of memory"),
                    entry("c", "usage", "max_length"),
                ]
            },
        ]
    )
    records = asyncio.run(code_many(coder_for(backend), ITEMS))
    assert all(r.status == "ok" for r in records)
    reask = backend.calls[1]
    assert reask.schema["properties"]["items"]["items"]["properties"]["item_id"]["enum"] == [
        "b",
        "c",
    ]
    text = reask.messages[-1]["content"]
    assert (
        "item c: missing from the answer" in text and "answer again only for the items b, c" in text
    )


def test_items_still_missing_after_reasks_are_coded_one_by_one_never_dropped():
    backend = FakeBackend(
        [{"items": [entry("a", "performance", "slow on CPU")]}, "not json"],
        responder=quoting("usage"),
    )
    records = asyncio.run(code_many(coder_for(backend, max_reasks=1), ITEMS))
    assert [(r.item_id, r.status) for r in records] == [("a", "ok"), ("b", "ok"), ("c", "ok")]
    assert len(backend.calls) == 4  # two multi-item requests, then b and c alone
    assert backend.calls[2].messages[-1]["content"].count("<item id=") == 1


def test_split_answer_tolerates_junk():
    assert split_answer("nope") == {}
    assert split_answer(json.dumps({"items": [{"item_id": "a", "codes": []}, 3, {"x": 1}]})) == {
        "a": json.dumps({"codes": []})
    }


CODES = {"a": "performance", "b": "resources", "c": "usage"}
QUOTES = {"a": "slow on CPU", "b": "CUDA out of memory", "c": "max_length"}


def run_of(tmp_path, coder, items):
    """A run of ``items`` started for ``coder``."""
    path = tmp_path / "items.csv"
    rows = {"item_id": [i.item_id for i in items], "text": [i.text for i in items]}
    pd.DataFrame(rows).to_csv(path, index=False)
    store = RunStore(tmp_path / "runs")
    taxonomy, prompts = coder.taxonomy, coder.prompts
    return start_run(store, coder.config, load_items(path), taxonomy, "", prompts, coder.backend)


def answering_each(request):
    """A FakeBackend responder that answers every item a multi-item request asks for."""
    ids = request.schema["properties"]["items"]["items"]["properties"]["item_id"]["enum"]
    return {"items": [entry(i, CODES[i], QUOTES[i]) for i in ids]}


def test_each_item_counts_its_share_of_the_request_so_the_run_counts_each_call_once(tmp_path):
    backend = FakeBackend(responder=answering_each)
    coder = coder_for(backend, items_per_request=3)
    run = run_of(tmp_path, coder, ITEMS)
    asyncio.run(code_items(ITEMS, coder, run))
    records = run.codings()
    assert [r.attempts for r in records] == [1, 0, 0]  # one call, shared in whole calls
    usage = finish_run(run).usage
    assert usage["calls"] == len(backend.calls) == 1
    assert usage["prompt_tokens"] == backend_prompt_tokens(backend)


def test_a_reask_is_charged_to_the_items_it_asked_for():
    backend = FakeBackend(
        [
            {"items": [entry("a", "performance", "slow on CPU"), entry("b", "resources", "x")]},
            {"items": [entry("b", "resources", "CUDA out of memory")]},
            {"items": [entry("c", "usage", "max_length")]},
        ]
    )
    records = asyncio.run(code_many(coder_for(backend, max_reasks=2), ITEMS))
    assert [r.status for r in records] == ["ok", "ok", "ok"]
    assert sum(r.attempts for r in records) == len(backend.calls) == 3
    by_id = {r.item_id: r for r in records}
    # a was settled by the first answer; b and c share the re-asks, c asked three times
    assert by_id["a"].prompt_tokens < by_id["c"].prompt_tokens
    assert sum(r.prompt_tokens for r in records) == backend_prompt_tokens(backend)


def test_samples_are_drawn_for_every_item_of_a_multi_item_request():
    backend = FakeBackend(responder=answering_each)
    records = asyncio.run(code_many(coder_for(backend, samples=3, temperature=0.7), ITEMS))
    assert len(backend.calls) == 3 and [c.seed for c in backend.calls] == [0, 1, 2]
    assert all(len(r.samples) == 3 for r in records)
    assert [r.codes[0].confidence for r in records] == [1.0, 1.0, 1.0]  # vote shares
    assert sum(r.attempts for r in records) == 3


def test_several_models_take_turns_for_multi_item_samples():
    first = FakeBackend(responder=answering_each, model="model-a")
    second = FakeBackend(responder=answering_each, model="model-b")
    coder = coder_for(first, samples=2)
    coder.more_backends = [second]
    records = asyncio.run(code_many(coder, ITEMS))
    assert len(first.calls) == len(second.calls) == 1
    assert all([s.model for s in r.samples] == ["model-a", "model-b"] for r in records)


class LogprobBackend(FakeBackend):
    """Answers like the openai backend with token log-probabilities: each code value and its
    closing quote are one token whose probability is ``probability[item_id]``."""

    name = "openai"

    def __init__(self, answer, probability):
        super().__init__(responder=lambda request: answer)
        self.probability = probability

    async def complete(self, request):
        response = await super().complete(request)
        tokens = []
        rest = response.content
        for item in json.loads(response.content)["items"]:
            value = f'"code": "{item["codes"][0]["code"]}'
            head, rest = rest.split(value, 1)
            p = math.log(self.probability[item["item_id"]])
            tokens += [(head + '"code": "', 0.0), (item["codes"][0]["code"] + '"', p)]
            rest = rest[1:]
        tokens.append((rest, 0.0))
        assert "".join(t for t, _ in tokens) == response.content
        response.logprobs = tokens
        return response


def test_log_probabilities_of_a_multi_item_answer_go_to_each_items_own_codes():
    answer_ = {
        "items": [
            entry("a", "usage", "slow on CPU"),
            entry("b", "usage", "CUDA out of memory"),
            entry("c", "resources", "max_length"),
        ]
    }
    backend = LogprobBackend(answer_, {"a": 0.9, "b": 0.5, "c": 0.7})
    records = asyncio.run(code_many(coder_for(backend), ITEMS))
    assert backend.calls[0].logprobs is True
    assert [r.probabilities for r in records] == [
        {"usage": pytest.approx(0.9)},
        {"usage": pytest.approx(0.5)},
        {"resources": pytest.approx(0.7)},
    ]


def test_a_multi_item_request_that_fails_for_good_falls_back_to_one_item_at_a_time():
    backend = FakeBackend([BackendError("HTTP 500 after 6 attempts")], responder=quoting("usage"))
    records = asyncio.run(code_many(coder_for(backend), ITEMS))
    assert [(r.item_id, r.status) for r in records] == [("a", "ok"), ("b", "ok"), ("c", "ok")]
    assert [c.messages[-1]["content"].count("<item id=") for c in backend.calls] == [3, 1, 1, 1]


def test_a_dead_endpoint_with_multi_item_requests_records_an_error_per_item(tmp_path):
    items = [Item(f"i{n}", f"Item {n} is slow on CPU.") for n in range(6)]
    backend = FakeBackend(responder=lambda request: BackendError("HTTP 503 after 6 attempts"))
    coder = coder_for(backend, items_per_request=3)
    run = run_of(tmp_path, coder, items)
    asyncio.run(code_items(items, coder, run))
    latest = run.latest_codings()
    assert sorted(latest) == [item.item_id for item in items]
    assert {r.status for r in latest.values()} == {"error"}
    assert all("503" in r.error for r in latest.values())
