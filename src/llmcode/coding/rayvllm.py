"""A run's prepared batch requests answered by vLLM engines inside Ray Data, on a cluster's GPUs
(``llmcode batch run RUN --engine ray --vllm-model MODEL``).

Ray Data's vLLM engine processor (``ray.data.llm``) starts ``replicas`` vLLM engines of
``model`` (a Hugging Face name or a path the GPU nodes can read), each on its own GPU(s), and
streams the requests through them in batches of ``batch_size``. Each request of the requests
file (`llmcode.coding.batch`, OpenAI Batch JSONL) becomes a row (``preprocess``): its chat
messages, and its sampling settings as vLLM's (temperature, max_tokens, seed, the JSON schema
of the answer as structured output). Each answer becomes a line of the Batch API's output format
(``postprocess``), written to ``runs/RUN/batch/ray-output.jsonl``, so ``batch collect --file``
ingests it with the same checks and re-asks as any batch.

Nothing heavy is imported until a run is sent; what is missing is said first, in one line with
its fix (`check_vllm`): vLLM where the command runs, Ray, GPUs in the Ray cluster, Ray Data's
LLM module. vLLM and torch are never installed by llmcode.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcode.coding.rayrun import RayReport, start_ray
from llmcode.errors import BackendError, ConfigError


@dataclass
class VllmSettings:
    """Which model on how many engines, how many requests per engine batch, which cluster."""

    model: str
    replicas: int = 1
    batch_size: int = 64
    gpus_per_replica: int = 1
    address: str | None = None


def check_vllm(settings: VllmSettings) -> Any:
    """Ray, started (or joined) with GPUs to run vLLM on; else a one-line error with the fix."""
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "vLLM is not installed here",
            hint="pip install vllm (with a CUDA build of torch) on the GPU nodes and where "
            "this command runs, e.g. with `ray job submit`; or serve the model and give "
            "--base-url instead of --vllm-model",
        )
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "Ray is not installed", hint="pip install 'llmcode[ray]' 'ray[llm]'"
        ) from exc
    start_ray(ray, settings.address)
    gpus = float(ray.cluster_resources().get("GPU", 0))
    wanted = settings.replicas * settings.gpus_per_replica
    if gpus < wanted:
        raise BackendError(
            f"the Ray cluster has {gpus:g} GPU(s); {settings.replicas} vLLM engine(s) of "
            f"{settings.model} need {wanted}",
            hint="run on a cluster with GPUs (--address, or `ray job submit`), lower --tasks, "
            "or serve the model and give --base-url instead of --vllm-model",
        )
    return ray


def processor_config(settings: VllmSettings) -> dict[str, Any]:
    """The keyword arguments of ``ray.data.llm.vLLMEngineProcessorConfig`` for ``settings``."""
    return {
        "model_source": settings.model,
        "engine_kwargs": {
            "tensor_parallel_size": settings.gpus_per_replica,
            "enable_prefix_caching": True,  # the codebook opens every request
        },
        "concurrency": settings.replicas,
        "batch_size": settings.batch_size,
        "should_continue_on_error": True,  # a failed request is an error line, not a lost run
    }


def request_row(line: str) -> dict[str, Any]:
    """One request of the requests file as the row the processor reads (``preprocess`` input)."""
    request = json.loads(line)
    return {"custom_id": request["custom_id"], "body": json.dumps(request["body"])}


def preprocess(row: dict[str, Any]) -> dict[str, Any]:
    """A request as vLLM's input: the chat messages and vLLM's sampling parameters (the
    answer's JSON schema as structured output)."""
    body = json.loads(row["body"])
    sampling: dict[str, Any] = {
        "temperature": body.get("temperature", 0.0),
        "max_tokens": body.get("max_tokens", 512),
    }
    if body.get("seed") is not None:
        sampling["seed"] = body["seed"]
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
    if schema is not None:
        sampling["structured_outputs"] = {"json": schema}
    return {
        "custom_id": row["custom_id"],
        "model": body.get("model", ""),
        "messages": body["messages"],
        "sampling_params": sampling,
    }


def postprocess(row: dict[str, Any]) -> dict[str, Any]:
    """vLLM's answer as a line of the Batch API's output format (``batch collect --file``)."""
    prompt_tokens = int(row.get("num_input_tokens") or 0)
    completion_tokens = int(row.get("num_generated_tokens") or 0)
    body = {
        "id": f"vllm-{row['custom_id']}",
        "object": "chat.completion",
        "model": row.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": row.get("generated_text") or ""},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    line = {
        "id": f"ray-vllm-{row['custom_id']}",
        "custom_id": row["custom_id"],
        "response": {"status_code": 200, "request_id": "", "body": body},
        "error": None,
    }
    return {"line": json.dumps(line, ensure_ascii=False)}


def failed_line(row: dict[str, Any]) -> str:
    """A request vLLM failed (Ray Data passes it on with ``__inference_error__``) as an error
    line of the Batch output format: listed by ``batch collect``, asked again on resume."""
    error = str(row.get("__inference_error__") or "no answer")
    line = {
        "id": f"ray-vllm-{row.get('custom_id')}",
        "custom_id": row.get("custom_id"),
        "response": None,
        "error": {"code": "vllm_engine", "message": error},
    }
    return json.dumps(line, ensure_ascii=False)


def send_with_vllm(requests: Path, output: Path, settings: VllmSettings) -> RayReport:
    """Answer every request of ``requests`` with vLLM engines in Ray Data; write ``output``."""
    ray = check_vllm(settings)
    try:
        from ray.data import llm
    except ImportError as exc:
        raise ConfigError(
            "Ray Data's LLM module is not installed", hint="pip install 'ray[data,llm]'"
        ) from exc
    build = getattr(llm, "build_processor", None) or getattr(llm, "build_llm_processor")  # noqa: B009 (Ray < 2.50)
    rows = [request_row(line) for line in requests.read_text("utf-8").splitlines() if line]
    started = time.monotonic()
    report = RayReport(output=output, requests=len(rows))
    processor = build(
        llm.vLLMEngineProcessorConfig(**processor_config(settings)),
        preprocess=preprocess,
        postprocess=postprocess,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as handle:
        for row in processor(ray.data.from_items(rows)).iter_rows():
            line = row.get("line") or failed_line(row)
            handle.write(line + "\n")
            failed = json.loads(line)["error"] is not None
            report.statuses["failed" if failed else "200"] += 1
            if failed:
                report.failed.append(str(row.get("custom_id")))
    report.seconds = time.monotonic() - started
    return report
