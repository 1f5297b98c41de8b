"""The first request for one item, built in the library as `llmcode code` would send it."""

from __future__ import annotations

import json

import pytest

from llmcode.coding.closed import make_coder
from llmcode.coding.preview import PLACEHOLDER, preview_request
from llmcode.errors import ConfigError
from llmcode.items import load_items
from llmcode.llm.backends.fake import FakeBackend
from llmcode.store.config import RunConfig
from llmcode.taxonomy.model import load_taxonomy
from tests.support import DATA


def test_the_preview_is_the_request_the_coder_sends(tmp_path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("item_id,coder,code\ni1,ana,usage\ni2,ana,resources\n", encoding="utf-8")
    preview = preview_request(
        DATA / "tiny.yaml", DATA / "items.csv", item_id="i3", examples=str(codes), shots=1
    )
    config = RunConfig(
        taxonomy_path="t", items_path="i", backend="fake", examples=str(codes), shots=1
    )
    items = load_items(DATA / "items.csv").items
    coder = make_coder(config, load_taxonomy(DATA / "tiny.yaml"), FakeBackend(), items)
    messages, shown = coder.item_messages(items[2])
    assert (preview.messages, preview.examples) == (messages, shown) and len(shown) == 1
    assert preview.schema == coder.schema_for(items[2])
    assert preview.item_id == "i3" and preview.check_messages == []


def test_the_second_look_is_shown_for_the_first_code() -> None:
    preview = preview_request(DATA / "tiny.yaml", DATA / "items.csv", verify="flag")
    assert preview.item_id == "i1" and preview.check_code == "usage"
    assert preview.check_messages and "check_messages" in preview.to_json()


def test_without_items_a_placeholder_is_shown_and_an_item_id_is_refused() -> None:
    assert preview_request(DATA / "tiny.yaml").item_id == PLACEHOLDER.item_id
    with pytest.raises(ConfigError, match="without an items file"):
        preview_request(DATA / "tiny.yaml", item_id="i2")
    with pytest.raises(ConfigError, match="no item 'nope'"):
        preview_request(DATA / "tiny.yaml", DATA / "items.csv", item_id="nope")


def test_prompt_show_prints_the_librarys_preview(cli) -> None:
    args = ("-t", DATA / "tiny.yaml", "--items", DATA / "items.csv", "--item", "i2", "--json")
    result = cli("prompt", "show", *args)
    assert result.exit_code == 0, result.output
    expected = preview_request(DATA / "tiny.yaml", DATA / "items.csv", item_id="i2")
    assert json.loads(result.stdout) == json.loads(json.dumps(expected.to_json()))
