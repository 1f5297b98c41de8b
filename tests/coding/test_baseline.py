"""`llmcode.coding.baseline`: a cross-fitted, calibrated TF-IDF classifier written as a run.

Cross-fitting is checked where leakage would show: items whose text is a unique token with a
random code (a model that saw an item's code memorises it; one that did not is at chance).
Calibration: on noisy synthetic texts the mean confidence is close to the accuracy. The run
is a run: `eval` reads it, its records carry every code's probability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmcode.coding.baseline import BaselineSettings, baseline_run
from llmcode.errors import CodesError, ConfigError
from llmcode.items import Item, ItemSet
from llmcode.quality.eval import evaluate
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import parse_taxonomy

WORDS = {"a": "crash error traceback", "b": "slow latency seconds", "c": "install pip version"}


def item_set(texts: dict[str, str]) -> ItemSet:
    return ItemSet(
        items=[Item(item_id=i, text=t) for i, t in texts.items()],
        skipped=[],
        source="items.csv",
        sha256="0" * 64,
        id_column="item_id",
        text_columns=("text",),
    )


def codes_of(labels: dict[str, str], coder: str = "ana") -> pd.DataFrame:
    return pd.DataFrame({"item_id": list(labels), "coder": coder, "code": list(labels.values())})


def noisy_study(n: int, seed: int = 0, noise: float = 0.3):
    """Texts with their code's words (and another code's words on ``noise`` of them)."""
    rng = np.random.default_rng(seed)
    texts, labels = {}, {}
    for k in range(n):
        code = "abc"[rng.integers(3)]
        shown = code if rng.random() > noise else "abc"[rng.integers(3)]
        filler = " ".join(rng.choice(["the", "model", "we", "run", "it", "on"], size=6))
        texts[f"i{k:03d}"] = f"{WORDS[shown]} {filler}"
        labels[f"i{k:03d}"] = code
    return texts, labels


def test_no_item_is_coded_by_a_model_that_saw_its_code(tmp_path) -> None:
    rng = np.random.default_rng(1)
    texts = {f"i{k}": f"token{k} token{k}x" for k in range(60)}
    labels = {i: "ab"[rng.integers(2)] for i in texts}
    run = baseline_run(
        RunStore(tmp_path), item_set(texts), codes_of(labels), human_source="h.csv", run_id="B"
    )
    coded = run.latest_codings()
    accuracy = np.mean([coded[i].codes[0].code == labels[i] for i in labels])
    assert accuracy < 0.65  # unique tokens carry nothing across items: chance, not memory
    assert run.manifest().extra["baseline"]["cross_fitted_accuracy"] == pytest.approx(accuracy)
    # the same classifier trained on every code memorises them
    from llmcode.coding.baseline import _fit

    fitted = _fit(list(texts.values()), np.array(["ab".index(labels[i]) for i in texts]))
    assert (
        np.mean(fitted.predict(list(texts.values())) == ["ab".index(labels[i]) for i in texts])
        == 1.0
    )


def test_codes_follow_the_words_and_confidences_are_calibrated(tmp_path) -> None:
    texts, labels = noisy_study(300)
    run = baseline_run(
        RunStore(tmp_path), item_set(texts), codes_of(labels), human_source="h.csv", run_id="B"
    )
    records = run.latest_codings()
    right = [records[i].codes[0].code == labels[i] for i in labels]
    confidence = [records[i].codes[0].confidence for i in labels]
    assert 0.7 < np.mean(right) < 0.9  # 30% of texts carry a random code's words
    assert abs(np.mean(confidence) - np.mean(right)) < 0.06
    for record in records.values():
        assert sum(record.probabilities.values()) == pytest.approx(1.0)
        assert record.codes[0].confidence == max(record.probabilities.values())
        assert record.model == "tfidf-logreg"


def test_items_nobody_coded_are_coded_by_the_model_trained_on_all_codes(tmp_path) -> None:
    texts, labels = noisy_study(60, seed=2, noise=0.0)
    extra = {"new1": WORDS["b"] + " today", "new2": WORDS["c"] + " again"}
    run = baseline_run(
        RunStore(tmp_path),
        item_set({**texts, **extra}),
        codes_of(labels),
        human_source="h.csv",
        run_id="B",
    )
    records = run.latest_codings()
    assert records["new1"].codes[0].code == "b"
    assert records["new2"].codes[0].code == "c"
    assert "not coded by ana" in records["new1"].codes[0].justification
    assert "fold" in records["i000"].codes[0].justification


def test_eval_treats_the_baseline_as_a_run(tmp_path) -> None:
    texts, labels = noisy_study(80, seed=3)
    store = RunStore(tmp_path)
    run = baseline_run(store, item_set(texts), codes_of(labels), human_source="h.csv", run_id="B")
    manifest = run.manifest()
    assert (manifest.kind, manifest.status, manifest.coder) == (
        "baseline",
        "complete",
        "tfidf-logreg",
    )
    result = evaluate([run], codes_of(labels, coder="ben"), bootstrap=0)
    entry = result.runs[0]
    accuracy = manifest.extra["baseline"]["cross_fitted_accuracy"]
    assert entry.accuracy.value == pytest.approx(accuracy)
    assert entry.cost_per_item_usd == 0.0


def test_a_given_taxonomy_is_the_run_snapshot(tmp_path) -> None:
    texts, labels = noisy_study(40, seed=4)
    text = "name: tiny\nversion: '2'\nmulti_label: false\ncategories:\n" + "".join(
        f"  - id: {c}\n    name: {c.upper()}\n    definition: code {c}\n" for c in "abcd"
    )
    run = baseline_run(
        RunStore(tmp_path),
        item_set(texts),
        codes_of(labels),
        human_source="h.csv",
        taxonomy=(parse_taxonomy(text), text, "tiny.yaml"),
        run_id="B",
    )
    assert [c.id for c in run.taxonomy().categories] == ["a", "b", "c", "d"]
    assert run.manifest().taxonomy["name"] == "tiny"


def test_several_coders_need_a_choice(tmp_path) -> None:
    texts, labels = noisy_study(40)
    both = pd.concat([codes_of(labels), codes_of(labels, "ben")])
    with pytest.raises(CodesError, match=r"codes from 2 coders \(ana, ben\)"):
        baseline_run(RunStore(tmp_path), item_set(texts), both, human_source="h.csv")
    run = baseline_run(
        RunStore(tmp_path),
        item_set(texts),
        both,
        human_source="h.csv",
        settings=BaselineSettings(coder="ben"),
    )
    assert run.manifest().extra["baseline"]["coder"] == "ben"


def test_coded_items_missing_from_the_items_are_named(tmp_path) -> None:
    texts, labels = noisy_study(40)
    with pytest.raises(CodesError, match=r"1 coded item.*not in items\.csv: ghost"):
        baseline_run(
            RunStore(tmp_path),
            item_set(texts),
            codes_of({**labels, "ghost": "a"}),
            human_source="h.csv",
        )


def test_too_few_codes_and_too_many_folds_are_refused(tmp_path) -> None:
    texts, labels = noisy_study(40)
    few = dict(list(labels.items())[:5])
    with pytest.raises(CodesError, match="at least 10 coded items"):
        baseline_run(RunStore(tmp_path), item_set(texts), codes_of(few), human_source="h.csv")
    with pytest.raises(ConfigError, match="folds 41"):
        baseline_run(
            RunStore(tmp_path),
            item_set(texts),
            codes_of(labels),
            human_source="h.csv",
            settings=BaselineSettings(folds=41),
        )


def test_a_multi_label_taxonomy_is_refused(tmp_path) -> None:
    texts, labels = noisy_study(40)
    text = "name: m\nversion: '1'\nmulti_label: true\ncategories:\n" + "".join(
        f"  - id: {c}\n    name: {c}\n    definition: code {c}\n" for c in "abc"
    )
    with pytest.raises(ConfigError, match="multi-label"):
        baseline_run(
            RunStore(tmp_path),
            item_set(texts),
            codes_of(labels),
            human_source="h.csv",
            taxonomy=(parse_taxonomy(text), text, "m.yaml"),
        )
