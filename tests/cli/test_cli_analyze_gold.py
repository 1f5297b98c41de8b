"""`llmcode analyze --gold` through the CLI on the bundled sample (ben's codes play the LLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(get_app(), list(args))


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    """30 of ana's codes drawn at random (seed 1) as a gold file, without a sampling record."""
    codes = pd.read_csv(EXAMPLES / "ptm-issues.codes.csv", dtype=str)
    ana = codes[codes["coder"] == "ana"].sample(30, random_state=1)
    path = tmp_path / "gold.csv"
    ana.to_csv(path, index=False)
    return path


def analyze(gold: Path, *extra: str):  # type: ignore[no-untyped-def]
    return invoke(
        "analyze",
        "--items",
        str(EXAMPLES / "ptm-issues.csv"),
        "--codes",
        str(EXAMPLES / "ptm-issues.codes.csv"),
        "--coder",
        "ben",
        "--gold",
        str(gold),
        *extra,
    )


def test_json_prevalence_has_the_promised_shape(gold):
    result = analyze(gold, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    prevalence = data["prevalence"]
    assert set(prevalence) == set(data["distribution"])
    for code, share in prevalence.items():
        assert set(share) == {"naive", "classical", "ppi", "effective_n"}
        assert share["naive"]["estimate"] == pytest.approx(data["shares"][code])
        assert len(share["ppi"]["ci95"]) == 2
    assert data["ppi"]["n_gold"] == 30
    assert data["ppi"]["resolution"]["conclusions_agree"] in (True, False)


def test_a_gold_file_without_sampling_record_warns_and_with_one_does_not(gold):
    result = analyze(gold, "--json")
    assert "no sampling record" in result.stderr
    Path(f"{gold}.json").write_text(json.dumps({"seed": 1, "n": 30}), encoding="utf-8")
    result = analyze(gold, "--json")
    assert result.exit_code == 0, result.output
    assert "sampling record" not in result.stderr
    assert json.loads(result.stdout)["ppi"]["sampling_record"] is True


def test_text_output_shows_the_three_estimates_the_agreement_line_and_the_plan(gold):
    result = analyze(gold, "--plan", "0.3")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "naive (LLM)" in text and "classical (gold)" in text and "PPI" in text
    assert "Conclusions agree." in text or "Conclusions differ." in text
    assert "plan:" in text and "would bring every CI below 0.3" in text


def test_plan_without_gold_and_a_silly_width_are_errors(gold):
    result = invoke(
        "analyze",
        "--items",
        str(EXAMPLES / "ptm-issues.csv"),
        "--codes",
        str(EXAMPLES / "ptm-issues.codes.csv"),
        "--plan",
        "0.1",
    )
    assert result.exit_code == 1
    assert "need gold codes" in result.output
    result = analyze(gold, "--plan", "5")
    assert result.exit_code == 2  # a bad option value is a usage error
    assert "between 0 and 1" in result.output


def test_gold_screening_gives_the_ptm_share(gold, tmp_path):
    screening = pd.read_csv(EXAMPLES / "ptm-issues.screening.csv", dtype=str)
    ana = screening[screening["coder"] == "ana"].sample(40, random_state=2)
    ana.to_csv(tmp_path / "gold-screening.csv", index=False)
    ben = screening[screening["coder"] == "ben"]
    ben.to_csv(tmp_path / "llm-screening.csv", index=False)
    result = analyze(
        gold,
        "--screening",
        str(tmp_path / "llm-screening.csv"),
        "--gold-screening",
        str(tmp_path / "gold-screening.csv"),
        "--json",
    )
    assert result.exit_code == 0, result.output
    ptm = json.loads(result.stdout)["ppi"]["screening"]["ptm"]
    assert ptm["classical"]["estimate"] == pytest.approx((ana["code"] == "ptm").mean())
    assert ptm["naive"]["estimate"] == pytest.approx((ben["code"] == "ptm").mean())
