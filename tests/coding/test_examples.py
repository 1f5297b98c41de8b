"""Example selection: similar, diverse in codes, never the item itself, never a test item."""

from __future__ import annotations

import pytest

from llmcode.coding.examples import (
    ExamplePool,
    Shot,
    compact_text,
    guarded_ids,
    load_example_pool,
    load_splits,
    read_example_codes,
)
from llmcode.errors import CodesError, ConfigError
from llmcode.items import Item

SHOTS = [
    Shot("a1", "the model crashes with cuda out of memory on a large batch", ("bug",)),
    Shot("a2", "cuda out of memory error when training with batch size 64", ("bug",)),
    Shot("a3", "out of memory with cuda again on the large batch", ("bug",)),
    Shot("b1", "please add support for training on memory mapped datasets", ("feature",)),
    Shot("c1", "how do I load the model from a local folder", ("question",)),
    Shot("c2", "question: what batch size did you use for the paper", ("question",)),
]


def pool(strategy: str = "mmr") -> ExamplePool:
    return ExamplePool(list(SHOTS), source="test", strategy=strategy)  # type: ignore[arg-type]


def test_the_most_similar_example_comes_first() -> None:
    item = Item("x", "cuda out of memory during training with a large batch")
    chosen = pool().select(item, 1)
    assert chosen[0].codes == ("bug",)


def test_the_item_itself_is_never_an_example() -> None:
    item = Item("a1", SHOTS[0].text)
    ids = [s.item_id for s in pool().select(item, 6)]
    assert "a1" not in ids
    assert len(ids) == 5


def test_the_same_text_under_another_id_is_never_an_example() -> None:
    item = Item("copy", "  The model crashes with CUDA out of memory on a large batch ")
    assert "a1" not in [s.item_id for s in pool().select(item, 6)]


@pytest.mark.parametrize("strategy", ["mmr", "quota"])
def test_examples_cover_several_codes(strategy: str) -> None:
    item = Item("x", "cuda out of memory with a large batch")
    codes = {s.codes[0] for s in pool(strategy).select(item, 3)}
    assert codes == {"bug", "feature", "question"}


def test_without_diversity_the_nearest_neighbours_win() -> None:
    item = Item("x", "cuda out of memory with a large batch")
    nearest = ExamplePool(list(SHOTS), diversity=0.0).select(item, 3)
    assert {s.codes[0] for s in nearest} == {"bug"}


def test_selection_is_stable() -> None:
    item = Item("x", "batch size and memory")
    first = [s.item_id for s in pool().select(item, 4)]
    assert first == [s.item_id for s in pool().select(item, 4)]


def test_test_split_items_are_excluded(tmp_path) -> None:
    splits = tmp_path / "splits.csv"
    splits.write_text("item_id,split\na1,test\na2,train\nb1,dev\n", encoding="utf-8")
    codes = tmp_path / "codes.csv"
    codes.write_text(
        "item_id,coder,code\n" + "".join(f"{s.item_id},ana,{s.codes[0]}\n" for s in SHOTS),
        encoding="utf-8",
    )
    items = [Item(s.item_id, s.text) for s in SHOTS]
    guarded = load_splits(splits)
    assert guarded_ids(guarded) == {"a1"}
    built = load_example_pool(codes, items, splits=guarded)
    assert "a1" not in [s.item_id for s in built.shots]
    picked = built.select(Item("x", SHOTS[0].text), 6)
    assert "a1" not in [s.item_id for s in picked]


def test_a_split_file_needs_item_id_and_split(tmp_path) -> None:
    bad = tmp_path / "s.csv"
    bad.write_text("item_id,part\na,test\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="split"):
        load_splits(bad)


def test_several_coders_need_a_choice(tmp_path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("item_id,coder,code\na,ana,x\na,ben,y\n", encoding="utf-8")
    with pytest.raises(CodesError, match="--examples-coder"):
        read_example_codes(codes)
    assert read_example_codes(codes, "ben") == {"a": ["y"]}
    with pytest.raises(CodesError, match="zoe"):
        read_example_codes(codes, "zoe")


def test_an_empty_pool_is_an_error() -> None:
    with pytest.raises(CodesError, match="no coded items"):
        ExamplePool([], source="codes.csv")


def test_the_pool_hash_changes_with_a_code() -> None:
    changed = [*SHOTS[:-1], Shot("c2", SHOTS[-1].text, ("bug",))]
    assert pool().sha256 != ExamplePool(changed).sha256


def test_long_texts_are_cut_at_a_word() -> None:
    text = "Title line\n\n" + "word " * 200
    short = compact_text(text, 50)
    assert short.startswith("Title line word")
    assert short.endswith("…")
    assert len(short) <= 52
