"""Confidence measures: vote shares, token probabilities of codes, run-to-run α."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmcode.llm.answers import CodeAssignment
from llmcode.llm.logprobs import chosen_code_probability, code_probabilities
from llmcode.quality.confidence import (
    sample_alpha,
    self_agreement,
    vote_shares,
)
from llmcode.store.models import CodingRecord, RunConfig, RunManifest, Sample
from llmcode.store.runs import Run

DATA = Path(__file__).parents[1] / "data"


def make_run(
    tmp_path: Path, records: list[CodingRecord], samples: int = 3, multi_label: bool = False
) -> Run:
    path = tmp_path / "run"
    path.mkdir()
    text = (DATA / "tiny.yaml").read_text(encoding="utf-8")
    if multi_label:
        text = text.replace("multi_label: false", "multi_label: true")
    (path / "taxonomy.yaml").write_text(text)
    run = Run(path)
    config = RunConfig(taxonomy_path="tiny.yaml", items_path="items.csv", samples=samples)
    run.write_manifest(RunManifest(run_id="run", config=config))
    for record in records:
        run.append_coding(record)
    return run


def sampled(item_id: str, *codes: str | None) -> CodingRecord:
    """A merged record whose samples chose ``codes`` (None: a failed sample)."""
    samples = [
        Sample(codes=[c], status="ok") if c else Sample(codes=[], status="error") for c in codes
    ]
    first = next(c for c in codes if c)
    return CodingRecord(
        item_id=item_id, status="ok", codes=[CodeAssignment(code=first)], samples=samples
    )


def test_vote_shares_are_each_codes_share_of_the_usable_samples(tmp_path: Path) -> None:
    run = make_run(
        tmp_path,
        [
            sampled("a", "usage", "usage", "resources"),
            sampled("b", "performance", None, "performance"),
            CodingRecord(item_id="c", status="error", error="boom"),
        ],
    )
    shares = vote_shares(run)
    assert list(shares.columns) == ["usage", "performance", "resources", "none"]
    assert list(shares.index) == ["a", "b"]
    assert shares.loc["a"].tolist() == pytest.approx([2 / 3, 0, 1 / 3, 0])
    assert shares.loc["b"].tolist() == [0, 1, 0, 0]


def test_a_record_without_samples_counts_as_one_vote(tmp_path: Path) -> None:
    record = CodingRecord(item_id="a", status="unverified", codes=[CodeAssignment(code="none")])
    shares = vote_shares(make_run(tmp_path, [record], samples=1))
    assert shares.loc["a", "none"] == 1.0


def test_the_latest_record_of_an_item_wins(tmp_path: Path) -> None:
    run = make_run(
        tmp_path,
        [CodingRecord(item_id="a", status="error"), sampled("a", "usage", "usage", "usage")],
    )
    assert vote_shares(run).loc["a", "usage"] == 1.0


def answer(*codes: str) -> str:
    return json.dumps(
        {
            "codes": [
                {"code": c, "justification": "j", "evidence": ["q"], "confidence": 0.9}
                for c in codes
            ],
            "suggested_code": None,
        }
    )


def tokenize(text: str, pieces: dict[str, float]) -> list[tuple[str, float]]:
    """Split ``text`` into tokens: the keys of ``pieces`` (with their log-probs) where they
    occur in order, single characters with log-prob -0.01 in between."""
    tokens: list[tuple[str, float]] = []
    position = 0
    for piece, logprob in pieces.items():
        at = text.index(piece, position)
        tokens.extend((char, -0.01) for char in text[position:at])
        tokens.append((piece, logprob))
        position = at + len(piece)
    tokens.extend((char, -0.01) for char in text[position:])
    return tokens


def test_code_probability_is_the_joint_probability_of_its_value_tokens() -> None:
    content = answer("usage")
    tokens = tokenize(content, {' "': -0.02, "us": -0.2, "age": -0.1, '",': -0.05})
    # tokens overlapping the value and its closing quote: "us", "age", '",'
    expected = math.exp(-0.2 - 0.1 - 0.05)
    assert chosen_code_probability(content, tokens) == pytest.approx(expected)
    assert code_probabilities(content, tokens) == {"usage": pytest.approx(expected)}


def test_a_token_spanning_the_opening_quote_and_the_value_counts() -> None:
    content = answer("resources")
    tokens = tokenize(content, {' "res': -0.3, "ources": -0.01})
    # the closing quote is a single-character token (-0.01)
    assert chosen_code_probability(content, tokens) == pytest.approx(math.exp(-0.32))


def test_each_code_of_a_multi_label_answer_gets_its_own_probability() -> None:
    content = answer("usage", "slow")
    tokens = tokenize(content, {"usage": -0.5, "slow": -1.0})
    probabilities = code_probabilities(content, tokens)
    assert probabilities["usage"] == pytest.approx(math.exp(-0.51))
    assert probabilities["slow"] == pytest.approx(math.exp(-1.01))
    assert chosen_code_probability(content, tokens) == probabilities["usage"]


def test_no_logprobs_or_unrelated_tokens_give_no_probability() -> None:
    content = answer("usage")
    assert chosen_code_probability(content, None) is None
    assert code_probabilities(content, []) == {}
    other = tokenize(answer("resources"), {"resources": -0.1})
    assert chosen_code_probability(content, other) is None
    assert chosen_code_probability("not json", tokenize("not json", {})) is None


def test_the_word_code_inside_a_justification_is_not_taken_for_a_code() -> None:
    content = json.dumps(
        {
            "codes": [
                {
                    "justification": 'the "code": "slow" bit',
                    "code": "usage",
                    "evidence": ["q"],
                    "confidence": 1,
                }
            ],
            "suggested_code": None,
        }
    )
    tokens = tokenize(content, {"usage": -0.7})
    assert code_probabilities(content, tokens) == {"usage": pytest.approx(math.exp(-0.71))}


def test_alpha_is_undefined_without_variation_or_pairs() -> None:
    same = pd.DataFrame(
        [{"item_id": i, "coder": c, "code": "x"} for i in ("a", "b") for c in ("1", "2")]
    )
    alone = pd.DataFrame([{"item_id": "a", "coder": "1", "code": "x"}])
    assert sample_alpha(same) is None
    assert sample_alpha(alone) is None


def test_self_agreement_is_alpha_with_samples_as_coders(tmp_path: Path) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    run = make_run(
        tmp_path,
        [
            sampled("a", "usage", "usage", "usage"),
            sampled("b", "usage", "resources", "usage"),
            sampled("c", "performance", "performance", None),
            sampled("d", "resources", "resources", "resources"),
        ],
    )
    # samples × items; usage = 0, performance = 1, resources = 2, failed sample = missing
    matrix = np.array([[0, 0, 1, 2], [0, 2, 1, 2], [0, 0, np.nan, 2]])
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert self_agreement(run) == pytest.approx(expected)


def test_self_agreement_needs_several_samples(tmp_path: Path) -> None:
    record = CodingRecord(item_id="a", status="ok", codes=[CodeAssignment(code="usage")])
    assert self_agreement(make_run(tmp_path, [record], samples=1)) is None


def test_multi_label_samples_are_compared_with_the_masi_distance(tmp_path: Path) -> None:
    def multi(item_id: str, *sets: list[str]) -> CodingRecord:
        return CodingRecord(
            item_id=item_id,
            status="ok",
            codes=[CodeAssignment(code=sets[0][0])],
            samples=[Sample(codes=s, status="ok") for s in sets],
        )

    run = make_run(
        tmp_path,
        [
            multi("a", ["usage", "performance"], ["performance", "usage"]),
            multi("b", ["usage"], ["usage", "performance"]),
            multi("c", ["resources"], ["resources"]),
        ],
        samples=2,
        multi_label=True,
    )
    # MASI: δ({usage}, {performance, usage}) = 1 - (1/2)(2/3) = 2/3; other distinct sets: 1
    # values S = {performance, usage} ×3, U = {usage} ×1, R = {resources} ×2; n = 6
    # D_o = (1/6) · 2 · (2/3) = 2/9;  D_e = (2·3·1·(2/3) + 2·3·2 + 2·1·2) / (6·5) = 2/3
    assert self_agreement(run) == pytest.approx(1 - (2 / 9) / (2 / 3))


def test_every_view_defaults_to_the_same_kind_of_confidence() -> None:
    from llmcode.quality.confidence import confidence_of, default_kind
    from llmcode.store.models import CodingRecord

    stated = CodeAssignment(code="usage", justification="j", confidence=0.7)
    plain = CodingRecord(item_id="a", status="ok", codes=[stated])
    with_logprob = plain.model_copy(update={"probabilities": {"usage": 0.93}})
    assert default_kind([plain]) == "stated"
    assert default_kind([plain, with_logprob]) == "logprob"
    assert confidence_of(with_logprob, "usage", "logprob") == 0.93
    assert confidence_of(with_logprob, "usage", "stated") == 0.7


@pytest.mark.parametrize("kind", [None, "vote", "logprob", "stated"])
def test_confidence_from_the_codes_frame_equals_confidence_from_the_records(
    tmp_path: Path, kind: str | None
) -> None:
    """`load_run_codes` keeps what each kind needs (no second read of a big run): the same
    values as reading the records again."""
    from llmcode.quality.confidence import with_confidence
    from llmcode.store.runs import load_run_codes

    stated = CodeAssignment(code="usage", confidence=0.7)
    records = [
        sampled("a", "usage", "usage", "resources"),
        CodingRecord(item_id="b", status="ok", codes=[stated], probabilities={"usage": 0.9}),
        CodingRecord(
            item_id="c", status="ok", codes=[stated.model_copy(update={"code": "performance"})]
        ),
        sampled("a", "resources", "resources", "resources"),  # the latest record wins
    ]
    run = make_run(tmp_path, records)
    facts: dict = {}
    codes = load_run_codes(run, confidence=facts)
    assert len(facts["samples"]) == len(codes)
    expected = with_confidence(codes, run, kind)  # from the records, read again
    assert with_confidence(codes, run, kind, facts=facts).equals(expected)
    assert expected["confidence"].notna().any()  # not a comparison of empty columns
    if kind is None:  # several samples: the vote share
        assert set(expected["confidence_kind"]) == {"vote share"}
