"""The embedded model (SmolLM2-135M, 4,096-token context) codes an interview in passages."""

from __future__ import annotations

import pytest

from llmcode.store.runs import RunStore, load_run_codes
from llmcode.taxonomy.model import load_taxonomy
from tests.support import ROOT, needs_llama

pytestmark = [pytest.mark.slow, needs_llama]
INTERVIEWS = ROOT / "examples" / "interviews"
TAXONOMY = INTERVIEWS / "ptm-interviews.yaml"
DOCUMENT = INTERVIEWS / "transcripts" / "p4-mobile.txt"


def test_the_embedded_model_codes_an_interview_in_passages_within_its_context(
    cli, tmp_path, monkeypatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LLMCODE_N_CTX", raising=False)
    args = ["code", "-t", TAXONOMY, "-i", DOCUMENT, "--unit", "segment", "--level", "leaves",
            "--runs-dir", tmp_path, "--max-reasks", "1"]  # fmt: skip
    dry = cli(*args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "windows" in dry.output
    result = cli(*args, "--run-id", "local", "--no-cache")
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path).open("local")
    manifest = run.manifest()
    assert manifest.backend["backend"] == "local" and manifest.backend["n_ctx"] == 4096
    assert manifest.config.sampling.evidence == "choice"  # passages are the text's sentences
    (record,) = run.latest_codings().values()
    assert record.status in ("ok", "unverified"), (record.status, record.error, record.problems)
    # every request fitted the context: prompt and answer of each attempt within 4,096 tokens
    assert record.prompt_tokens / record.attempts < 4096
    leaves = {c.id for c in load_taxonomy(TAXONOMY).targets("leaves")}
    text = DOCUMENT.read_text(encoding="utf-8")
    for segment in record.segments:
        assert {c.code for c in segment.codes} <= leaves
        assert segment.verified and text[segment.start : segment.end] == segment.quote
    frame = load_run_codes(run)
    assert set(frame["item_id"]) == {"p4-mobile"}
