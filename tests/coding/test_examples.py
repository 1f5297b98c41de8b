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


# --- in the coding path ------------------------------------------------------------------


def _coder(backend, pool, cache=None, **config):
    from llmcode.coding.closed import make_coder
    from llmcode.store.config import RunConfig
    from llmcode.taxonomy.model import load_taxonomy
    from tests.support import DATA

    settings = {"taxonomy_path": "t", "items_path": "missing.csv", **config}
    coder = make_coder(
        RunConfig(**settings), load_taxonomy(DATA / "tiny.yaml"), backend, [], cache=cache
    )
    coder.examples = pool
    return coder


TINY = [
    Shot("e1", "generate() ignores max_length", ("usage",)),
    Shot("e2", "CUDA out of memory on a small card", ("resources",)),
    Shot("e3", "inference is slow on CPU", ("performance",)),
]


def test_a_record_names_its_examples_and_the_prompt_shows_them() -> None:
    import asyncio

    from llmcode.llm.backends.fake import FakeBackend
    from tests.support import quoting

    backend = FakeBackend(responder=quoting("resources"))
    coder = _coder(backend, ExamplePool(list(TINY)), shots=2)
    record = asyncio.run(coder.code(Item("x", "Out of memory with CUDA on my card")))
    assert record.examples[0] == "e2" and len(record.examples) == 2
    user = backend.calls[0].messages[-1]["content"]
    assert '<example codes="resources">\nCUDA out of memory on a small card\n</example>' in user


def test_the_cache_key_changes_with_the_examples_shown(tmp_path) -> None:
    import asyncio

    from llmcode.llm.backends.fake import FakeBackend
    from llmcode.llm.cache import ResponseCache
    from tests.support import quoting

    item = Item("x", "Out of memory with CUDA on my card")
    cache = ResponseCache(tmp_path)
    first = FakeBackend(responder=quoting("resources"))
    asyncio.run(_coder(first, ExamplePool(list(TINY)), cache, shots=1).code(item))
    same = FakeBackend(responder=quoting("resources"))
    again = asyncio.run(_coder(same, ExamplePool(list(TINY)), cache, shots=1).code(item))
    assert same.calls == [] and again.cached_calls == 1
    other = [Shot("e2", "CUDA out of memory on a small card!", ("resources",)), *TINY[::2]]
    changed = FakeBackend(responder=quoting("resources"))
    asyncio.run(_coder(changed, ExamplePool(other), cache, shots=1).code(item))
    assert len(changed.calls) == 1  # other examples: another request, not a cache hit


def test_several_items_per_request_each_get_their_own_examples() -> None:
    import asyncio

    from llmcode.coding.closed import code_many
    from llmcode.llm.backends.fake import FakeBackend

    items = [Item("a", "generate() max_length is ignored"), Item("b", "slow inference on CPU")]

    def respond(request):
        return {
            "items": [
                {
                    "item_id": "a",
                    "codes": [
                        {
                            "code": "usage",
                            "justification": "j",
                            "evidence": ["generate() max_length"],
                            "confidence": 0.9,
                        }
                    ],
                    "suggested_code": None,
                },
                {
                    "item_id": "b",
                    "codes": [
                        {
                            "code": "performance",
                            "justification": "j",
                            "evidence": ["slow inference"],
                            "confidence": 0.9,
                        }
                    ],
                    "suggested_code": None,
                },
            ]
        }

    backend = FakeBackend(responder=respond)
    coder = _coder(backend, ExamplePool(list(TINY)), shots=1, items_per_request=2)
    records = asyncio.run(code_many(coder, items))
    assert [r.examples for r in records] == [["e1"], ["e3"]]
    user = backend.calls[0].messages[-1]["content"]
    assert user.index("similar to item a") < user.index('<item id="a">')
    assert (
        user.index('<item id="a">') < user.index("similar to item b") < user.index('<item id="b">')
    )


def test_verify_runs_after_coding_and_its_calls_count() -> None:
    import asyncio

    from llmcode.llm.backends.fake import FakeBackend
    from tests.support import answer

    backend = FakeBackend(
        [answer("usage", "generate()"), {"verdict": "reject", "reason": "r", "alternative": None}]
    )
    coder = _coder(backend, None, verify="flag")
    record = asyncio.run(coder.code(Item("x", "generate() ignores max_length")))
    assert record.codes[0].disputed and record.checks[0].outcome == "disputed"
    assert record.attempts == 2 and backend.calls[1].schema_name == "check"


def test_the_prompt_fits_the_local_context_on_the_longest_sample_item() -> None:
    from llmcode.coding.costs import token_counter
    from llmcode.coding.examples import read_example_codes
    from llmcode.items import load_items
    from llmcode.llm.prompts import item_message, load_prompts, system_message
    from llmcode.taxonomy.model import load_taxonomy
    from tests.support import ROOT

    items = load_items(ROOT / "examples" / "ptm-issues.csv").items
    codes = read_example_codes(ROOT / "examples" / "ptm-issues.codes.csv", "ana")
    pool = load_example_pool(ROOT / "examples" / "ptm-issues.codes.csv", items, coder="ana")
    longest = max(items, key=lambda i: len(i.text))
    shots = pool.select(longest, 4)
    assert len(shots) == 4 and all(s.item_id in codes for s in shots)
    prompts = load_prompts()
    system = system_message(prompts, load_taxonomy(ROOT / "taxonomy" / "ptm-reuse.yaml"))
    from llmcode.coding.examples import render_shots

    user = item_message(prompts, longest.item_id, longest.text, render_shots(shots))
    count, _ = token_counter("gpt-4o-mini")
    # SmolLM2's tokenizer counted 2017 tokens where o200k counts 2040 on this prompt (20% margin
    # kept); the answer needs max_tokens 512 of the 4096-token local context
    prompt = count(system["content"]) + count(user["content"])
    assert prompt * 1.2 + 512 < 4096, prompt


class ConceptEmbedder:
    """Vectors by concept, not by word: 'memory' and 'RAM' land on the same axis."""

    name = "concepts"
    AXES = (("memory", "ram", "oom"), ("slow", "latency", "seconds"), ("how", "call", "api"))

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts):
        import numpy as np

        self.calls += 1
        return np.array(
            [[sum(w in t.lower() for w in axis) + 0.01 for axis in self.AXES] for t in texts]
        )


def test_embedding_similarity_finds_the_example_that_shares_no_word() -> None:
    shots = [
        Shot("s", "each request takes 12 seconds", ("performance",)),
        Shot("u", "how do I call the API with a token", ("usage",)),
        Shot("m", "Process killed: not enough RAM", ("resources",)),
    ]
    item = Item("x", "OOM when loading")  # no word in common with "m"
    by_words = ExamplePool(list(shots), diversity=0.0).select(item, 1)
    embedder = ConceptEmbedder()
    by_meaning = ExamplePool(list(shots), diversity=0.0, embedder=embedder).select(item, 1)
    assert by_meaning[0].item_id == "m"
    assert by_words[0].item_id == "s"  # no shared word: TF-IDF falls back to pool order
    assert ExamplePool(list(shots), embedder=embedder).describe()["similarity"] == (
        "embedding:concepts"
    )


def test_embedding_pools_keep_diversity_and_exclusion() -> None:
    shots = [*SHOTS]
    pool = ExamplePool(shots, embedder=ConceptEmbedder())
    chosen = pool.select(Item("a1", SHOTS[0].text), 3)
    assert "a1" not in [s.item_id for s in chosen]
    assert len({s.codes[0] for s in chosen}) >= 2


def test_a_reviewed_run_gives_its_accepted_and_changed_items(tmp_path) -> None:
    from llmcode.review.session import ReviewSession
    from tests.review.test_review_session import make_run

    run = make_run(tmp_path)
    session = ReviewSession(run, "ana")
    session.accept()  # i1: usage
    session.change(["usage"])  # i2: resources -> usage
    session.reject()  # i3: rejected, not an example
    pool = load_example_pool(run.path, [], coder="ana")
    assert [(s.item_id, s.codes) for s in pool.shots] == [("i1", ("usage",)), ("i2", ("usage",))]
    assert "max_length=50" in pool.shots[0].text  # texts from the run's item snapshot


def test_a_resume_with_changed_example_codes_is_refused(tmp_path) -> None:
    from llmcode.coding.closed import make_coder
    from llmcode.llm.backends.fake import FakeBackend
    from llmcode.store.config import RunConfig
    from llmcode.taxonomy.model import load_taxonomy
    from tests.support import DATA

    codes = tmp_path / "codes.csv"
    codes.write_text("item_id,coder,code\ni1,ana,usage\ni2,ana,resources\n", encoding="utf-8")
    config = RunConfig(taxonomy_path="t", items_path=str(DATA / "items.csv"), examples=str(codes))
    taxonomy = load_taxonomy(DATA / "tiny.yaml")
    first = make_coder(config, taxonomy, FakeBackend(), [])
    assert first.examples is not None
    started = first.examples.sha256
    assert make_coder(config, taxonomy, FakeBackend(), [], examples_sha256=started).examples
    codes.write_text("item_id,coder,code\ni1,ana,usage\ni2,ana,usage\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="changed since the run started"):
        make_coder(config, taxonomy, FakeBackend(), [], examples_sha256=started)


def _decide(run, reviewer: str, item_id: str, codes: list[str], **fields) -> None:
    from llmcode.store.decisions import Decision, append_decision

    action = "accept" if not fields.get("action") else fields.pop("action")
    append_decision(
        run, Decision(reviewer=reviewer, item_id=item_id, action=action, codes=codes, **fields)
    )


def test_a_reviewed_run_never_gives_automatic_accepts_or_a_models_decisions(tmp_path) -> None:
    from llmcode.store.decisions import Automatic
    from tests.review.test_review_session import make_run

    run = make_run(tmp_path)
    auto = Automatic(threshold=0.5, confidence=0.9)
    _decide(run, "ana", "i1", ["usage"], automatic=auto)  # no one looked: the model's own code
    _decide(run, "ana", "i2", ["usage"], decided_by="model")
    _decide(run, "ana", "i3", ["performance"], action="change")  # a person's decision
    pool = load_example_pool(run.path, [], coder="ana")
    assert [(s.item_id, s.codes) for s in pool.shots] == [("i3", ("performance",))]


def test_a_run_reviewed_only_automatically_gives_no_examples(tmp_path) -> None:
    from llmcode.store.decisions import Automatic
    from tests.review.test_review_session import make_run

    run = make_run(tmp_path)
    for item_id in ("i1", "i2"):
        _decide(run, "ana", item_id, ["usage"], automatic=Automatic(threshold=0.5, confidence=0.9))
    with pytest.raises(CodesError, match="no coded items"):
        load_example_pool(run.path, [])


def test_a_run_reviewed_by_several_people_needs_examples_coder(tmp_path) -> None:
    from tests.review.test_review_session import make_run

    run = make_run(tmp_path)
    _decide(run, "ana", "i1", ["usage"])
    _decide(run, "ben", "i1", ["performance"], action="change")
    with pytest.raises(CodesError, match="several reviewers \\(ana, ben\\)") as caught:
        load_example_pool(run.path, [])
    assert "--examples-coder" in str(caught.value.hint)
    pool = load_example_pool(run.path, [], coder="ben")
    assert [(s.item_id, s.codes) for s in pool.shots] == [("i1", ("performance",))]


def test_reviewed_codes_outside_the_taxonomy_are_refused_naming_their_rows(tmp_path) -> None:
    from llmcode.coding.examples import taxonomy_codes
    from tests.review.test_review_session import make_run
    from tests.support import DATA

    run = make_run(tmp_path)
    _decide(run, "ana", "i1", ["usage"])
    _decide(run, "ana", "i2", ["made-up"], action="change")
    allowed = taxonomy_codes(str(DATA / "tiny.yaml"))
    assert allowed is not None and "usage" in allowed and "slow" in allowed
    with pytest.raises(CodesError, match="not in the taxonomy: i2 \\(made-up\\)"):
        load_example_pool(run.path, [], taxonomy_codes=allowed)
