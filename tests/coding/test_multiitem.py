import asyncio
import json

from llmcode.coding.closed import Coder, code_many
from llmcode.coding.multiitem import split_answer
from llmcode.items import Item
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.prompts import load_prompts
from llmcode.store.runs import RunConfig
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
