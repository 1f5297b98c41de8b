"""Prepared requests answered by vLLM engines in Ray Data (``batch run --vllm-model``): what is
missing is one line with its fix, requests become vLLM's rows, answers become output lines that
``batch collect`` ingests like any batch. vLLM and GPUs are not here: the engine is not run."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import types
import warnings

import pytest

from llmcode.coding import rayvllm
from llmcode.coding.batch_ingest import ingest_output_file, parse_line
from llmcode.coding.rayvllm import (
    VllmSettings,
    failed_line,
    postprocess,
    preprocess,
    processor_config,
    request_row,
)
from llmcode.llm.backends.base import ChatResponse
from llmcode.testserver import default_responder
from tests.coding.test_batch import coder_for
from tests.support.batch_runs import prepared_run, request_lines, write_lines

OFFLINE = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "LLMCODE_MODEL": None}


def vllm_installed(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object):
        if name == "vllm":
            return object() if installed else None
        return real(name, *args)

    monkeypatch.setattr(rayvllm.importlib.util, "find_spec", find_spec)


def run_vllm(cli, tmp_path):
    prepared = cli(
        "batch", "prepare", "-t", "tests/data/tiny.yaml", "-i", "tests/data/items.csv",
        "--model", "test-model", "--run-id", "v", "--runs-dir", tmp_path, env=OFFLINE,
    )  # fmt: skip
    assert prepared.exit_code == 0, prepared.output
    return cli(
        "batch", "run", "v", "--engine", "ray", "--vllm-model", "Qwen/Qwen2.5-7B-Instruct",
        "--runs-dir", tmp_path, env=OFFLINE,
    )  # fmt: skip


def test_without_vllm_the_run_is_refused_in_one_line_with_the_fix(cli, tmp_path, monkeypatch):
    vllm_installed(monkeypatch, False)
    result = run_vllm(cli, tmp_path)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].startswith("error: vLLM is not installed here")
    assert "pip install vllm" in result.output and "--base-url" in result.output
    assert not (tmp_path / "v" / "batch" / "ray-output.jsonl").exists()


def test_a_ray_cluster_without_gpus_is_refused_in_one_line_with_the_fix(cli, tmp_path, monkeypatch):
    vllm_installed(monkeypatch, True)
    started: list[str | None] = []
    fake = types.ModuleType("ray")
    fake.init = lambda address=None, **_: started.append(address)  # type: ignore[attr-defined]
    fake.cluster_resources = lambda: {"CPU": 2.0}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", fake)
    result = run_vllm(cli, tmp_path)
    assert result.exit_code == 1 and started == [None]
    text = " ".join(result.output.split())
    assert (
        "the Ray cluster has 0 GPU(s); 2 vLLM engine(s) of Qwen/Qwen2.5-7B-Instruct need 2" in text
    )
    assert "--address" in text and "--base-url" in text


def test_a_prepared_request_becomes_vllms_row_with_its_sampling_and_schema(tmp_path):
    _, requests = prepared_run(tmp_path)
    line = requests.read_text("utf-8").splitlines()[0]
    body = json.loads(line)["body"]
    row = preprocess(request_row(line))
    assert row["custom_id"] == json.loads(line)["custom_id"]
    assert row["messages"] == body["messages"]
    assert row["sampling_params"] == {
        "temperature": body["temperature"],
        "max_tokens": body["max_tokens"],
        "seed": body["seed"],
        "structured_outputs": {"json": body["response_format"]["json_schema"]["schema"]},
    }


def test_vllm_answers_are_output_lines_batch_collect_ingests(tmp_path):
    run, requests = prepared_run(tmp_path)
    lines = []
    for n, request in enumerate(request_lines(requests)):
        answer = default_responder(request["body"])
        row = {"custom_id": request["custom_id"], "model": "test-model", "generated_text": answer}
        lines.append(postprocess({**row, "num_input_tokens": 100 + n, "num_generated_tokens": 20}))
    first = parse_line(json.loads(lines[0]["line"]))
    assert isinstance(first, ChatResponse)
    assert (first.prompt_tokens, first.completion_tokens) == (100, 20)
    output = write_lines(tmp_path / "ray-output.jsonl", [line["line"] for line in lines])
    report = asyncio.run(ingest_output_file(run, coder_for(run), [output]))
    assert report.statuses == {"ok": len(lines)} and report.failed == []
    assert run.manifest().usage["batch_prompt_tokens"] == sum(100 + n for n in range(len(lines)))


def test_a_request_vllm_failed_is_an_error_line_listed_not_lost():
    line = json.loads(failed_line({"custom_id": "item-i1", "__inference_error__": "OOM"}))
    assert line["custom_id"] == "item-i1"
    assert parse_line(line) == "vllm_engine: OOM"


def test_the_processor_config_is_one_ray_data_accepts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ray's own pydantic deprecations on import
        llm = pytest.importorskip("ray.data.llm")
    settings = VllmSettings("Qwen/Qwen2.5-7B-Instruct", replicas=3, gpus_per_replica=2)
    config = llm.vLLMEngineProcessorConfig(**processor_config(settings))
    assert config.model_source == "Qwen/Qwen2.5-7B-Instruct"
    assert config.concurrency == 3 and config.should_continue_on_error
    assert config.engine_kwargs["tensor_parallel_size"] == 2
