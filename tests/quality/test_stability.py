"""Prompt stability: reworded codebooks kept as files, α within and between wordings.

A scripted fake model rewords each definition ("In other words (seed): ...") and codes by a
hash of the item, except that under wording 2 it calls every resources item usage (a wording
that moves one code), and on its second repeat it changes one item's code (a repeat that
differs). The α values are checked against the `krippendorff` package on the same matrix.
"""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest

from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend, item_id, item_text
from llmcode.quality.stability import stability
from llmcode.taxonomy.model import load_taxonomy
from tests.support.analysis_runs import DATA, write_study

CODES = ["usage", "performance", "resources"]


def _truth(item: str) -> str:
    return {"i3": "resources", "i6": "resources", "i2": "performance", "i5": "performance"}.get(
        item, "usage"
    )


def respond(request: ChatRequest) -> dict:
    if request.schema_name == "paraphrase":
        text = request.messages[-1]["content"].split("<category>")[1].split("</category>")[0]
        definition = text.strip().splitlines()[-1]
        return {"definition": f"In other words ({request.seed}): {definition}"}
    item = item_id(request)
    system = request.messages[0]["content"]
    code = _truth(item)
    if "In other words (2)" in system and code == "resources":
        code = "usage"
    if request.seed == 1 and item == "i1":
        code = "performance"
    return {
        "codes": [
            {
                "code": code,
                "justification": "scripted",
                "evidence": [" ".join(item_text(request).split()[:3])],
                "confidence": 0.9,
            }
        ],
        "suggested_code": None,
    }


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("stability")
    paths = write_study(root / "study")
    return root, stability(
        DATA / "tiny.yaml",
        paths["items"],
        paraphrases=2,
        sample=8,
        repeats=2,
        out_dir=root / "out",
        runs_dir=root / "runs",
        backend=FakeBackend(responder=respond, model="fake-model"),
        bootstrap=200,
        max_reasks=0,
    )


def test_each_rewording_is_a_valid_taxonomy_file_naming_model_and_seed(result) -> None:
    _, found = result
    assert [w.path.name for w in found.wordings] == ["tiny.wording-1.yaml", "tiny.wording-2.yaml"]
    second = load_taxonomy(found.wordings[1].path)
    assert second.version == "0.1+wording-2"
    usage = next(c for c in second.categories if c.id == "usage")
    assert usage.definition == "In other words (2): How to call or configure the model."
    header = found.wordings[1].path.read_text().splitlines()[0]
    assert "model fake-model (seed 2)" in header


def _alpha(rows: list[list[str]]) -> float:
    """krippendorff's α (nominal) on a coders × units matrix of code names."""
    index = {c: n for n, c in enumerate(CODES)}
    data = np.array([[index[c] for c in row] for row in rows], dtype=float)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def test_between_wording_alpha_is_krippendorffs_on_the_first_repeats(result) -> None:
    _, found = result
    items = [f"i{n}" for n in range(1, 9)]
    original = [_truth(i) for i in items]
    second = ["usage" if c == "resources" else c for c in original]
    expected = _alpha([original, original, second])
    assert found.between.alpha == pytest.approx(expected, abs=1e-9)
    assert found.between.low <= found.between.alpha <= found.between.high


def test_within_wording_alpha_is_krippendorffs_over_item_by_wording_units(result) -> None:
    _, found = result
    items = [f"i{n}" for n in range(1, 9)]
    first, second = [], []
    for wording in (0, 1, 2):
        for i in items:
            code = _truth(i)
            if wording == 2 and code == "resources":
                code = "usage"
            first.append(code)
            second.append("performance" if i == "i1" else code)
    assert found.within.alpha == pytest.approx(_alpha([first, second]), abs=1e-9)


def test_the_code_a_wording_moves_is_flagged_and_the_stable_one_is_not(result) -> None:
    _, found = result
    assert found.flagged == ["usage", "resources"]  # the README's table
    assert found.per_code["resources"]["between"].alpha == pytest.approx(0.42, abs=0.005)
    assert found.per_code["performance"]["between"].alpha == pytest.approx(1.0)
    assert "performance" not in found.flagged
    data = json.loads(json.dumps(found.to_json()))
    assert set(data) >= {"within_wording", "between_wording", "per_code", "flagged", "wordings"}
    assert data["runs"]["wording-2"] == ["stability-wording-2-r0", "stability-wording-2-r1"]
