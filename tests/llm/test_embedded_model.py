"""The real embedded model (llama.cpp + bundled SmolLM2-135M) — offline default, in CI."""

import socket
import subprocess
import sys
import time

import httpx2 as httpx
import pytest

from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import load_taxonomy
from tests.support import ROOT, needs_llama

pytestmark = [pytest.mark.slow, needs_llama]
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
SAMPLE = ROOT / "examples" / "ptm-issues.csv"


def assert_codes_are_from_the_taxonomy_with_verified_evidence(run):
    allowed = {c.id for c in load_taxonomy(TAXONOMY).categories} | {"none"}
    latest = run.latest_codings()
    assert len(latest) == run.manifest().items["n_items"]
    for record in latest.values():
        assert record.status != "error", record.error
        for code in record.codes:
            assert code.code in allowed
    return latest


def test_the_embedded_model_codes_sample_items_offline(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = cli(
        "code",
        "-t",
        TAXONOMY,
        "-i",
        SAMPLE,
        "--limit",
        "2",
        "--runs-dir",
        tmp_path,
        "--run-id",
        "local",
    )
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path).open("local")
    manifest = run.manifest()
    assert manifest.backend["backend"] == "local"
    assert manifest.backend["model"].startswith("SmolLM2-135M-Instruct")
    assert manifest.config.evidence == "choice"
    latest = assert_codes_are_from_the_taxonomy_with_verified_evidence(run)
    coded = [r for r in latest.values() if r.codes]
    assert coded, "the model should code at least one of two items"
    for record in coded:  # choice mode: quotes are the item's own sentences
        assert all(span.verified for code in record.codes for span in code.evidence)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_openai_backend_codes_over_http_against_llama_cpp_server(cli, tmp_path):
    pytest.importorskip("uvicorn", reason="llama_cpp.server needs llama-cpp-python[server]")
    from llmcode.llm.backends.local import bundled_model_path

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(bundled_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--model_alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start within 120 s")
        result = cli(
            "code",
            "-t",
            TAXONOMY,
            "-i",
            SAMPLE,
            "--limit",
            "1",
            "--base-url",
            base_url,
            "--model",
            "smollm2",
            "--runs-dir",
            tmp_path,
            "--run-id",
            "http",
            "--max-reasks",
            "1",
            "--evidence",
            "choice",
        )
        assert result.exit_code == 0, result.output
        run = RunStore(tmp_path).open("http")
        assert run.manifest().backend["backend"] == "openai"
        assert run.manifest().backend["response_format"] in ("json_schema", "json_object+schema")
        assert_codes_are_from_the_taxonomy_with_verified_evidence(run)
    finally:
        server.terminate()
        server.wait(timeout=30)
