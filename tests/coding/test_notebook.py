"""`llmcode.code_file`: the notebook entry point codes a file into a finished run."""

from __future__ import annotations

import asyncio

import llmcode
from llmcode.llm.backends.fake import FakeBackend
from tests.support import DATA, quoting


def test_code_file_codes_every_item_into_a_finished_run(tmp_path) -> None:
    backend = FakeBackend(responder=quoting("usage"))
    run = llmcode.code_file(
        DATA / "tiny.yaml", DATA / "items.csv", backend=backend, runs_dir=tmp_path, run_id="nb"
    )
    manifest = run.manifest()
    assert manifest.status == "complete"
    codes = llmcode.load_run_codes(run)
    assert sorted(set(codes["item_id"])) == ["i1", "i2", "i3", "i4"]
    assert set(codes["code"]) == {"usage"}
    assert len(backend.calls) == 4
    assert manifest.usage["calls"] == 4


def test_code_file_works_inside_a_running_event_loop(tmp_path) -> None:
    async def notebook_cell():
        return llmcode.code_file(
            DATA / "tiny.yaml",
            DATA / "items.csv",
            backend=FakeBackend(responder=quoting("performance")),
            runs_dir=tmp_path,
        )

    run = asyncio.run(notebook_cell())
    assert set(llmcode.load_run_codes(run)["code"]) == {"performance"}
