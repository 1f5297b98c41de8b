"""The offline default end to end: the embedded model open-codes a few sample items and drafts
a taxonomy that passes `taxonomy check`, whatever a 135M model writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.store.runs import Run
from llmcode.taxonomy.model import load_taxonomy
from tests.support import needs_llama

ROOT = Path(__file__).parents[2]
pytestmark = [pytest.mark.slow, needs_llama]


def test_the_embedded_model_drafts_a_taxonomy_from_sample_items(tmp_path: Path) -> None:
    sample = pd.read_csv(ROOT / "examples" / "ptm-issues.csv", dtype=str).iloc[[0, 1, 5]]
    items = tmp_path / "items.csv"
    sample[["item_id", "title"]].to_csv(items, index=False)
    runs, draft = tmp_path / "runs", tmp_path / "draft.yaml"
    runner = CliRunner()
    env = {"COLUMNS": "200", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}

    coded = runner.invoke(
        get_app(),
        [
            "open-code",
            "--items",
            str(items),
            "--text-column",
            "title",
            "--backend",
            "local",
            "--max-codes",
            "1",
            "--max-reasks",
            "1",
            "--max-tokens",
            "160",
            "--run-id",
            "open",
            "--runs-dir",
            str(runs),
        ],
        env=env,
    )
    assert coded.exit_code == 0, coded.output
    records = Run(runs / "open").latest_codings()
    assert sorted(records) == sorted(sample["item_id"])
    assert all(r.codes for r in records.values()), "every item keeps a (maybe flagged) code"

    drafted = runner.invoke(
        get_app(),
        [
            "themes",
            "open",
            "-o",
            str(draft),
            "--n-themes",
            "2",
            "--max-reasks",
            "1",
            "--runs-dir",
            str(runs),
        ],
        env=env,
    )
    assert drafted.exit_code == 0, drafted.output
    checked = runner.invoke(get_app(), ["taxonomy", "check", str(draft)])
    assert checked.exit_code == 0, checked.output
    text = draft.read_text()
    assert "open-coding run: open" in text and "SmolLM2-135M" in text
    assert 1 <= len(load_taxonomy(draft).categories) <= 2
