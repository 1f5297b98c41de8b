import pytest

from llmcode.coding.costs import (
    PRICES,
    Budget,
    Price,
    cost_of,
    estimate_run,
    load_prices,
    price_for,
)
from llmcode.errors import ConfigError
from tests.support import DATA


def messages(n, chars):
    return [{"role": "user", "content": "x" * chars} for _ in range(n)]


def test_dry_run_arithmetic_by_hand():
    system = {"role": "system", "content": "s" * 400}  # 100 tokens by chars/4
    estimate = estimate_run(system, messages(10, 40), "gpt-4o-mini", PRICES)
    if estimate.counter == "chars/4":
        # 10 requests x (system 100+4 + item 10+4 + 2 framing) = 1200
        assert estimate.prompt_tokens == 1200
    assert estimate.requests == 10 and estimate.output_tokens == 10 * 120
    expected = (estimate.prompt_tokens * 0.15 + estimate.output_tokens * 0.60) / 1e6
    assert estimate.cost == pytest.approx(expected)


def test_items_per_request_sends_the_codebook_once_per_request():
    system = {"role": "system", "content": "s" * 4000}
    one = estimate_run(system, messages(10, 400), "gpt-4o-mini", PRICES)
    five = estimate_run(system, messages(10, 400), "gpt-4o-mini", PRICES, items_per_request=5)
    assert five.requests == 2
    assert five.prompt_tokens < 0.5 * one.prompt_tokens


def test_prices_match_dated_snapshots_and_can_be_overridden(tmp_path):
    assert price_for("gpt-4o-mini-2024-07-18", PRICES) == PRICES["gpt-4o-mini"]
    assert price_for("my-llama", PRICES) is None
    table = tmp_path / "prices.yaml"
    table.write_text("my-llama: {input: 0.0, output: 0.1}\n")
    assert load_prices(table)["my-llama"] == Price(input=0.0, output=0.1)
    table.write_text("my-llama: {input: cheap}\n")
    with pytest.raises(ConfigError, match="my-llama"):
        load_prices(table)


def test_the_budget_refuses_the_item_that_would_pass_the_cap():
    price = Price(input=1.0, output=1.0)  # $1 per million tokens
    budget = Budget(max_cost=0.01, price=price, per_item_estimate=0.003)
    assert budget.try_start() and budget.try_start() and budget.try_start()
    assert not budget.try_start() and budget.exhausted  # 4 x 0.003 > 0.01
    for _ in range(3):
        budget.charge(2000, 500)
    assert budget.spent == pytest.approx(cost_of(6000, 1500, price))


def test_cli_dry_run_sends_nothing_and_prints_the_estimate(cli, tmp_path):
    result = cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--dry-run",
        "--runs-dir",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    assert "nothing sent" in result.output and "cost_usd" in result.output
    assert not any(tmp_path.iterdir())


def test_max_cost_stops_cleanly_and_the_run_resumes(cli, tmp_path):
    from llmcode.store.runs import RunStore
    from llmcode.testserver import ServerConfig, TestServer

    table = tmp_path / "prices.yaml"
    table.write_text("gpt-4o-mini: {input: 1000.0, output: 1000.0}\n")  # ~$0.5 per item
    args = [
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--runs-dir",
        tmp_path,
        "--run-id",
        "b",
        "--prices",
        table,
        "--concurrency",
        "1",
    ]
    with TestServer(ServerConfig()) as server:
        first = cli(*args, "--base-url", server.base_url, "--max-cost", "1.2")
        assert first.exit_code == 0, first.output
        assert "budget reached" in first.output
        run = RunStore(tmp_path).open("b")
        assert run.manifest().status == "interrupted"
        done = len(run.latest_codings())
        assert done == 2
        assert 0.9 < run.manifest().usage["cost_usd"] <= 1.2
        second = cli("code", "--resume", "b", "--runs-dir", tmp_path)
        assert second.exit_code == 0, second.output
    assert len(run.latest_codings()) == 4 and run.manifest().status == "complete"


def test_a_price_table_with_a_duplicate_model_is_an_error(tmp_path):
    from llmcode.coding.costs import load_prices
    from llmcode.errors import ConfigError

    table = tmp_path / "prices.yaml"
    table.write_text("m: {input: 1, output: 2}\nm: {input: 0, output: 0}\n")
    with pytest.raises(ConfigError, match=r"prices\.yaml:2: duplicate key 'm'"):
        load_prices(table)


def test_dry_run_prices_the_model_llmcode_model_names(cli, tmp_path):
    args = [
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--dry-run",
        "--runs-dir",
        tmp_path,
    ]
    result = cli(*args, env={"LLMCODE_MODEL": "gpt-4o", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "dry run: gpt-4o," in result.output
    mini = cli(*args, env={"COLUMNS": "200"})
    assert "dry run: gpt-4o-mini," in mini.output
    cost = [line for line in result.output.splitlines() if "cost_usd" in line]
    assert cost and cost != [line for line in mini.output.splitlines() if "cost_usd" in line]
