"""Auditing human labels: confident learning, planted label errors, per-coder quality."""

from __future__ import annotations

import asyncio
import json
import random
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.errors import AnalysisError, CodesError, ConfigError
from llmcode.items import load_items
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend, item_id, item_text
from llmcode.llm.evidence import Span
from llmcode.llm.prompts import load_prompts
from llmcode.quality.audit import (
    AUDIT_FILE,
    audit_labels,
    coder_quality,
    confident_joint,
    confident_thresholds,
    find_label_issues,
    label_quality,
    write_audit_queue,
)
from llmcode.store.models import CodingRecord, RunConfig, RunManifest, Sample
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import load_taxonomy

DATA = Path(__file__).parents[1] / "data"
CODES = ("usage", "performance", "resources")
TEXTS = {
    "usage": "How do I pass the option {n} to generate()? The docs never explain the argument.",
    "performance": "Inference takes {n} seconds per request, far slower than the README promises.",
    "resources": "Loading checkpoint {n} fails with CUDA out of memory on a 16GB card.",
}
INVENTED = "INVENTED"


def synthetic_run(tmp_path: Path, truth: dict[str, str], script: dict[str, list[str]]) -> Run:
    """Code items through the real pipeline; ``script[item]`` is each sample's code.

    A code written as ``INVENTED:code`` answers that code with a quote the text lacks.
    """
    rows = [
        {"item_id": i, "text": TEXTS[code].format(n=n)} for n, (i, code) in enumerate(truth.items())
    ]
    items_path = tmp_path / "items.csv"
    pd.DataFrame(rows).to_csv(items_path, index=False)
    samples = len(next(iter(script.values())))

    def respond(request: ChatRequest) -> dict:
        planned = script[item_id(request)][request.seed or 0]
        invented = planned.startswith(f"{INVENTED}:")
        code = planned.split(":")[-1]
        quote = "a sentence that is not there" if invented else item_text(request)[:40]
        return {
            "codes": [
                {
                    "code": code,
                    "justification": f"reads as {code}",
                    "evidence": [quote],
                    "confidence": 0.9,
                }
            ],
            "suggested_code": None,
        }

    taxonomy_path = DATA / "tiny.yaml"
    config = RunConfig(
        taxonomy_path=str(taxonomy_path),
        items_path=str(items_path),
        backend="fake",
        temperature=0.8,
        samples=samples,
        max_reasks=1,
    )
    backend = FakeBackend(responder=respond)
    prompts = load_prompts()
    store = RunStore(tmp_path / "runs")
    taxonomy = load_taxonomy(taxonomy_path)
    item_set = load_items(items_path)
    text = taxonomy_path.read_text(encoding="utf-8")
    run = start_run(store, config, item_set, taxonomy, text, prompts, backend, "synthetic")
    coder = Coder(taxonomy=taxonomy, backend=backend, prompts=prompts, config=config)
    asyncio.run(code_items(run.items(), coder, run))
    finish_run(run)
    return run


def long_codes(labels: dict[str, str | None], coder: str = "ana") -> pd.DataFrame:
    return pd.DataFrame(
        [{"item_id": i, "coder": coder, "code": c} for i, c in labels.items()],
        columns=["item_id", "coder", "code"],
    )


def other(code: str, shift: int = 1) -> str:
    return CODES[(CODES.index(code) + shift) % len(CODES)]


def precision_at_k(ranked: list[str], planted: set[str]) -> float:
    top = ranked[: len(planted)]
    return sum(i in planted for i in top) / len(planted)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict[str, str], set[str]]:
    """45 items; 6 human labels flipped; the model is unsure on some, confidently wrong on two."""
    truth = {f"i{n:02d}": CODES[n % 3] for n in range(45)}
    script = {i: [c, c, c] for i, c in truth.items()}
    for i in ("i03", "i04", "i05", "i06"):  # hard items: one sample strays
        script[i][2] = other(truth[i])
    for i in ("i07", "i08"):  # the model is confidently wrong, with an invented quote
        script[i] = [f"{INVENTED}:{other(truth[i])}"] * 3
    for i in ("i09", "i10"):  # the model leans wrong, the human is right
        script[i] = [other(truth[i]), other(truth[i]), truth[i]]
    errors = {"i20", "i21", "i22", "i23", "i24", "i25"}
    human = {i: (other(c, 2) if i in errors else c) for i, c in truth.items()}
    run = synthetic_run(tmp_path_factory.mktemp("planted"), truth, script)
    return run, human, errors


def test_planted_label_errors_rank_at_the_top(planted) -> None:
    run, human, errors = planted
    result = audit_labels(run, long_codes(human))
    ranked = [e.item_id for e in result.items]
    assert precision_at_k(ranked, errors) == 1.0
    assert set(ranked[:6]) == errors
    assert all(e.model_share == 1.0 and e.human_share == 0.0 for e in result.items[:6])
    assert result.n_audited == 45


def test_confidently_wrong_model_with_invented_quotes_ranks_below_verified_cases(planted) -> None:
    run, human, _errors = planted
    result = audit_labels(run, long_codes(human))
    by_item = {e.item_id: e for e in result.items}
    assert by_item["i07"].evidence_verified is False
    assert by_item["i07"].score == pytest.approx(0.5)
    assert [e.item_id for e in result.items][6:] == ["i07", "i08"]


def test_items_where_the_model_only_leans_another_way_are_not_flagged(planted) -> None:
    run, human, _errors = planted
    flagged = {e.item_id for e in audit_labels(run, long_codes(human)).items}
    assert not flagged & {"i03", "i04", "i05", "i06", "i09", "i10"}


def test_audit_entries_carry_the_models_justification_and_verified_evidence(planted) -> None:
    run, human, _errors = planted
    entry = audit_labels(run, long_codes(human)).items[0]
    text = {i.item_id: i.text for i in run.items()}[entry.item_id]
    span = entry.evidence[0]
    assert entry.justification == f"reads as {entry.model_code}"
    assert span.verified and text[span.start : span.end] == span.quote
    assert entry.human_code != entry.model_code


def test_top_keeps_only_the_n_highest_ranked(planted) -> None:
    run, human, _errors = planted
    result = audit_labels(run, long_codes(human), top=3)
    assert [e.rank for e in result.items] == [1, 2, 3]
    assert result.n_flagged == 8


def test_precision_at_k_on_a_noisy_random_set(tmp_path: Path) -> None:
    """90 items, each sample right with p = 0.8, 9 planted human errors (seeded)."""
    rng = random.Random(7)
    truth = {f"r{n:02d}": CODES[n % 3] for n in range(90)}
    script = {
        i: [c if rng.random() < 0.8 else other(c, rng.choice((1, 2))) for _ in range(5)]
        for i, c in truth.items()
    }
    errors = set(rng.sample(sorted(truth), 9))
    human = {i: (other(c, rng.choice((1, 2))) if i in errors else c) for i, c in truth.items()}
    run = synthetic_run(tmp_path, truth, script)
    ranked = [e.item_id for e in audit_labels(run, long_codes(human)).items]
    precision = precision_at_k(ranked, errors)
    print(f"precision@{len(errors)} = {precision:.2f}; flagged {len(ranked)}")
    assert precision >= 8 / 9


def test_thresholds_and_confident_joint_match_a_hand_worked_example() -> None:
    # items labelled 0: p0 = 0.9, 0.7, 0.2 -> t0 = 0.6; labelled 1: p1 = 0.8, 0.4 -> t1 = 0.6
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.2, 0.8], [0.65, 0.4]])
    assert confident_thresholds(labels, probs) == pytest.approx([0.6, 0.6])
    joint, guess = confident_joint(labels, probs)
    # item 2 (label 0): only p1 = 0.8 passes -> true 1; item 4 (label 1): p0 = 0.65 passes
    assert guess.tolist() == [0, 0, 1, 1, 0]
    assert joint.tolist() == [[2, 1], [1, 1]]
    assert find_label_issues(labels, probs).tolist() == [False, False, True, False, True]
    assert label_quality(labels, probs) == pytest.approx([0.9, 0.7, 0.2, 0.8, 0.375])


def test_a_given_label_the_model_ranks_first_is_never_an_issue() -> None:
    # p1 passes t1 for item 0 but the given code 0 is the model's first choice
    labels = np.array([0, 1, 1])
    probs = np.array([[0.5, 0.5], [0.4, 0.6], [0.6, 0.4]])
    assert not find_label_issues(labels, probs)[0]


def test_confident_learning_matches_cleanlab_on_random_probabilities() -> None:
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    cleanlab_rank = pytest.importorskip("cleanlab.rank")
    cleanlab_count = pytest.importorskip("cleanlab.count")
    rng = np.random.default_rng(3)
    for _ in range(8):
        n, k = 200, 4
        labels = rng.integers(0, k, n)
        labels[:k] = np.arange(k)
        probs = rng.dirichlet(np.ones(k) * 0.7, n)
        probs[np.arange(n), labels] += rng.random(n)
        probs /= probs.sum(axis=1, keepdims=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = cleanlab_filter.find_label_issues(
                labels, probs, filter_by="confident_learning"
            )
            expected_joint = cleanlab_count.compute_confident_joint(labels, probs, calibrate=False)
            expected_quality = cleanlab_rank.get_label_quality_scores(
                labels, probs, method="normalized_margin"
            )
        joint, _ = confident_joint(labels, probs)
        np.fill_diagonal(joint, joint.diagonal().clip(min=1))  # cleanlab's display convention
        assert (find_label_issues(labels, probs) == expected).all()
        assert (joint == expected_joint).all()
        assert label_quality(labels, probs) == pytest.approx(expected_quality)


def test_the_audit_queue_file_lists_items_in_rank_order(planted) -> None:
    run, human, _errors = planted
    result = audit_labels(run, long_codes(human))
    path = write_audit_queue(run, result)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert path == run.path / AUDIT_FILE
    assert [e["item_id"] for e in data["items"]] == [e.item_id for e in result.items]
    assert {"item_id", "human_code", "model_code", "score"} <= set(data["items"][0])


def test_several_coders_without_a_choice_is_an_error(planted) -> None:
    run, human, _errors = planted
    codes = pd.concat([long_codes(human, "ana"), long_codes(human, "ben")])
    with pytest.raises(ConfigError, match=r"2 coders \(ana, ben\)") as caught:
        audit_labels(run, codes)
    assert caught.value.hint == "choose one with coder"
    assert audit_labels(run, codes, coder="ben").coder == "ben"


def test_codes_outside_the_taxonomy_are_named_with_their_items(planted) -> None:
    run, human, _errors = planted
    codes = long_codes({**human, "i01": "typo_code"})
    with pytest.raises(CodesError, match=r"'typo_code' \(item i01\)"):
        audit_labels(run, codes, source="ana.csv")


def test_two_codes_for_one_item_of_a_single_label_taxonomy_are_an_error(planted) -> None:
    run, human, _errors = planted
    codes = pd.concat([long_codes(human), long_codes({"i01": "usage", "i02": "resources"})])
    codes = pd.concat([codes, long_codes({"i01": "performance"})])
    with pytest.raises(CodesError, match=r"several codes to item\(s\) i01"):
        audit_labels(run, codes)


def test_leaf_codes_count_as_their_top_level_category(planted) -> None:
    run, human, errors = planted
    leaf = {i: ("slow" if c == "performance" else c) for i, c in human.items()}
    ranked = [e.item_id for e in audit_labels(run, long_codes(leaf)).items]
    assert set(ranked[:6]) == errors


def test_human_items_missing_from_the_run_are_reported_not_audited(planted) -> None:
    run, human, _errors = planted
    result = audit_labels(run, long_codes({**human, "zz": "usage"}))
    assert result.not_audited == ["zz"] and result.n_audited == 45


def test_no_overlap_with_the_run_is_an_error(planted) -> None:
    run, _human, _errors = planted
    with pytest.raises(AnalysisError, match="no item coded by ana"):
        audit_labels(run, long_codes({"zz": "usage"}))


def test_per_coder_quality_against_the_model_and_the_consensus(planted) -> None:
    run, human, _errors = planted
    model = {i: r.codes[0].code for i, r in run.latest_codings().items()}
    differ = {i for i in human if human[i] != model[i]}
    ben = dict(model)  # ben always agrees with the model
    cai = {i: other(model[i]) for i in list(model)[:10]}  # cai codes 10 items, always wrong
    codes = pd.concat([long_codes(human, "ana"), long_codes(ben, "ben"), long_codes(cai, "cai")])
    quality = {q.coder: q for q in coder_quality(run, codes)}
    assert len(differ) == 10
    assert (quality["ben"].with_model, quality["ben"].model_items) == (1.0, 45)
    assert quality["ana"].with_model == pytest.approx(35 / 45, abs=1e-6)
    assert (quality["cai"].with_model, quality["cai"].items) == (0.0, 10)
    # for ben, ana and the model tie where they differ (no majority): those items drop out
    assert (quality["ben"].with_consensus, quality["ben"].consensus_items) == (1.0, 35)
    # for ana and cai, ben and the model always form the majority
    assert quality["ana"].with_consensus == pytest.approx(35 / 45, abs=1e-6)
    assert (quality["cai"].with_consensus, quality["cai"].consensus_items) == (0.0, 10)
    assert quality["ben"].alpha_with_model == 1.0
    assert 0 < quality["ana"].alpha_with_model < 1


def test_multi_label_taxonomies_are_refused_with_a_reason(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = RunConfig(taxonomy_path="t.yaml", items_path="i.csv")
    text = (
        (DATA / "tiny.yaml")
        .read_text(encoding="utf-8")
        .replace("multi_label: false", "multi_label: true")
    )
    (run_dir / "taxonomy.yaml").write_text(text, encoding="utf-8")
    Run(run_dir).write_manifest(RunManifest(run_id="run", config=config))
    with pytest.raises(AnalysisError, match="multi-label"):
        audit_labels(Run(run_dir), long_codes({"i1": "usage"}))


def recorded_run(tmp_path: Path, samples: dict[str, list[str]]) -> Run:
    """A run written record by record: each item's samples, the first sample's code chosen."""
    path = tmp_path / "recorded"
    path.mkdir()
    (path / "taxonomy.yaml").write_text((DATA / "tiny.yaml").read_text(encoding="utf-8"))
    run = Run(path)
    config = RunConfig(taxonomy_path="tiny.yaml", items_path="items.csv", samples=3)
    run.write_manifest(RunManifest(run_id="recorded", config=config))
    for item, codes in samples.items():
        quote = Span(quote="words", start=0, end=5, verified=True)
        run.append_coding(
            CodingRecord(
                item_id=item,
                status="ok",
                codes=[CodeAssignment(code=codes[0], evidence=[quote])],
                samples=[Sample(codes=[c], status="ok") for c in codes],
            )
        )
    return run


def test_a_model_code_without_a_majority_of_samples_is_not_flagged(tmp_path: Path) -> None:
    # t_performance = 1/3 (p1), so z's 1/3 for performance passes the confident-learning test
    run = recorded_run(
        tmp_path,
        {
            "u1": ["usage"] * 3,
            "p1": ["performance", "resources", "none"],
            "z": ["performance", "resources", "none"],
        },
    )
    human = long_codes({"u1": "usage", "p1": "performance", "z": "usage"})
    assert audit_labels(run, human).items == []
    assert [e.item_id for e in audit_labels(run, human, min_share=0.0).items] == ["z"]


def test_none_from_the_model_counts_as_unverified_evidence(tmp_path: Path) -> None:
    run = recorded_run(
        tmp_path,
        {
            **{f"u{n}": ["usage"] * 3 for n in range(3)},
            "r1": ["resources"] * 3,
            "n1": ["none"] * 3,
            "x1": ["none"] * 3,
            "x2": ["resources"] * 3,
        },
    )
    labels = {"u0": "usage", "u1": "usage", "u2": "usage", "r1": "resources", "n1": None}
    human = long_codes({**labels, "x1": "usage", "x2": "usage"})  # n1: an empty code is none
    scores = {e.item_id: (e.score, e.evidence_verified) for e in audit_labels(run, human).items}
    assert scores == {"x2": (1.0, True), "x1": (0.5, False)}
