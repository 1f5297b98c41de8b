"""Prices: a dated table that a file replaces; live, batch and prompt-cached costs."""

from __future__ import annotations

import pytest

from llmcode.coding.costs import CACHE_MIN_TOKENS, cached_prefix, estimate_run
from llmcode.coding.prices import (
    PRICE_DATE,
    Price,
    PriceTable,
    cost_of,
    load_price_table,
)
from llmcode.errors import ConfigError


def test_the_built_in_table_carries_its_date_and_source() -> None:
    table = load_price_table()
    assert table.date == PRICE_DATE and "openai.com" in table.source
    price = table.price("gpt-4o-mini-2024-07-18")
    assert price == Price(input=0.15, output=0.60, cached_input=0.075, batch_discount=0.5)


def test_a_dated_file_replaces_its_models_and_the_tables_date(tmp_path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "date: 2026-12-01\nsource: our contract\nmodels:\n"
        "  gpt-4o-mini: {input: 1.0, output: 2.0}\n  my-llama: {input: 0, output: 0.1}\n",
        encoding="utf-8",
    )
    table = load_price_table(path)
    assert (table.date, table.source) == ("2026-12-01", "our contract")
    assert table.price("gpt-4o-mini") == Price(input=1.0, output=2.0)
    assert table.price("gpt-4o") is not None  # models the file does not name are kept


def test_a_flat_file_still_works_and_its_date_is_unknown(tmp_path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("my-llama: {input: 0, output: 0.1, batch_discount: 0.25}\n")
    table = load_price_table(path)
    assert table.date == "unknown" and table.source == str(path)
    assert table.price("my-llama") == Price(input=0, output=0.1, batch_discount=0.25)


def test_a_batch_discount_above_one_is_refused(tmp_path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("m: {input: 1, output: 1, batch_discount: 50}\n")
    with pytest.raises(ConfigError, match="model 'm'"):
        load_price_table(path)


def test_cached_tokens_cost_the_cached_input_price() -> None:
    price = Price(input=2.0, output=10.0, cached_input=0.5)
    # 1M prompt tokens, 400k of them cached, 100k output: 0.6*2 + 0.4*0.5 + 0.1*10
    assert cost_of(1_000_000, 100_000, price, 400_000) == pytest.approx(2.4)
    assert cost_of(1_000_000, 100_000, Price(input=2.0, output=10.0), 400_000) == pytest.approx(3.0)


def test_a_prefix_is_cached_from_1024_tokens_in_steps_of_128() -> None:
    assert cached_prefix(CACHE_MIN_TOKENS - 1) == 0
    assert cached_prefix(1024) == 1024
    assert cached_prefix(1151) == 1024
    assert cached_prefix(1152) == 1152


def _estimate(system_chars: int, items: int = 100):
    system = {"role": "system", "content": "word " * (system_chars // 5)}
    users = [{"role": "user", "content": f"item {n}: it is slow"} for n in range(items)]
    table = PriceTable({"m": Price(input=1.0, output=4.0, cached_input=0.25, batch_discount=0.5)})
    return estimate_run(system, users, "m", table)


def test_a_long_codebook_is_priced_cached_after_the_first_request() -> None:
    estimate = _estimate(system_chars=20_000)
    system_tokens = (estimate.prompt_tokens - _estimate(0).prompt_tokens) // 100
    assert estimate.cached_prompt_tokens == cached_prefix(system_tokens) * 99 > 0
    saved = estimate.cached_prompt_tokens * (1.0 - 0.25) / 1e6
    assert estimate.cached_cost == pytest.approx(estimate.cost - saved)
    assert estimate.batch_cost == pytest.approx(estimate.cost / 2)


def test_a_short_codebook_is_not_cached() -> None:
    estimate = _estimate(system_chars=400)
    assert estimate.cached_prompt_tokens == 0 and estimate.cached_cost == estimate.cost


def _long_taxonomy(tmp_path):
    """A codebook of about 2,000 tokens: long enough for a provider to cache it."""
    words = " ".join(f"aspect{n}" for n in range(300))
    codes = "".join(
        f"  - id: c{n}\n    name: Code {n}\n    definition: {words}\n" for n in range(4)
    )
    path = tmp_path / "long.yaml"
    path.write_text(
        f"name: long\nversion: '1'\nmulti_label: false\ncategories:\n{codes}", encoding="utf-8"
    )
    return path


def test_a_runs_cost_uses_the_cached_tokens_the_provider_reported(tmp_path) -> None:
    import llmcode
    from llmcode.testserver import ServerConfig, TestServer
    from tests.support import DATA

    prices = tmp_path / "prices.yaml"
    prices.write_text("m: {input: 1.0, output: 0.0, cached_input: 0.1}\n")
    with TestServer(ServerConfig(prompt_cache=True)) as server:
        run = llmcode.code(
            _long_taxonomy(tmp_path), DATA / "items.csv", base_url=server.base_url,
            model="m", prices=prices, runs_dir=tmp_path / "runs", cache=False, concurrency=1,
        )  # fmt: skip
    usage = run.manifest().usage
    records = run.codings()
    assert records[0].cached_prompt_tokens == 0  # the first request writes the cache
    assert all(r.cached_prompt_tokens >= 1024 for r in records[1:])
    cached = usage["cached_prompt_tokens"]
    assert cached == sum(r.cached_prompt_tokens for r in records) > 0
    expected = ((usage["prompt_tokens"] - cached) * 1.0 + cached * 0.1) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected, abs=1e-6)
    assert usage["cost_usd"] < usage["prompt_tokens"] / 1e6  # less than the live price


@pytest.mark.parametrize("bad", ["-0.5", ".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("field", ["input", "output", "cached_input"])
def test_a_negative_or_not_finite_price_is_an_error_naming_the_model_and_the_file(
    tmp_path, bad, field
) -> None:
    path = tmp_path / "prices.yaml"
    prices = {"input": "1", "output": "2", field: bad}
    path.write_text("my-model: {" + ", ".join(f"{k}: {v}" for k, v in prices.items()) + "}\n")
    with pytest.raises(ConfigError) as caught:
        load_price_table(path)
    assert str(path) in str(caught.value) and "my-model" in str(caught.value)
