"""`llmcode code --dry-run`: the estimate as a labelled table or as JSON, priced three ways."""

from __future__ import annotations

import json

from tests.support import DATA

KEYS = {
    "requests", "prompt_tokens", "output_tokens", "cost_usd", "batch_cost_usd",
    "cached_cost_usd", "price_date",
}  # fmt: skip
BASE = ("code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv", "--dry-run")
OPENAI = ("--backend", "openai", "--model", "gpt-4o-mini")


def test_dry_run_json_has_the_issues_keys_and_only_json_on_stdout(cli) -> None:
    result = cli(*BASE, *OPENAI, "--json")
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert set(estimate) >= KEYS
    assert estimate["batch_cost_usd"] == estimate["cost_usd"] / 2  # OpenAI's Batch API: 50% off
    assert estimate["cached_cost_usd"] == estimate["cost_usd"]  # a tiny codebook is not cached
    assert estimate["price_date"] == "2025-08-07"


def test_dry_run_table_labels_live_batch_and_cached_costs(cli) -> None:
    result = cli(*BASE, *OPENAI)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "live: every prompt token at the input price" in text
    assert "Batch API (50% off)" in text
    assert "the cached prefix at the cached-input price" in text
    assert "source: https://openai.com/api/pricing" in text


def test_a_replaced_price_table_prices_the_dry_run_with_its_date(cli, tmp_path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "date: 2026-12-01\nsource: contract\nmodels:\n  mine: {input: 1000000, output: 0}\n"
    )
    result = cli(*BASE, "--backend", "openai", "--model", "mine", "--prices", prices, "--json")
    estimate = json.loads(result.stdout)
    assert estimate["price_date"] == "2026-12-01"
    assert estimate["cost_usd"] == estimate["prompt_tokens"]  # $1 a token
    assert estimate["batch_cost_usd"] == estimate["cost_usd"]  # no batch discount known
