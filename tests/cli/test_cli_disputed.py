"""The second look's disputes are visible: `runs show`, the export's `disputed` column."""

from __future__ import annotations

import io

import pandas as pd

from llmcode.llm.answers import CodeAssignment
from llmcode.llm.checks import CodeCheck
from llmcode.store.config import RunConfig
from llmcode.store.models import CodingRecord, RunManifest
from llmcode.store.runs import Run


def _verified_run(path) -> Run:
    path.mkdir(parents=True)
    run = Run(path)
    config = RunConfig(taxonomy_path="t.yaml", items_path="i.csv", model="m", verify="flag")
    run.write_manifest(RunManifest(run_id=path.name, config=config, status="complete"))
    for item_id, outcome in (("i1", "kept"), ("i2", "disputed"), ("i3", "kept")):
        run.append_coding(
            CodingRecord(
                item_id=item_id,
                status="ok",
                codes=[CodeAssignment(code="usage", justification="asks how to call it")],
                checks=[
                    CodeCheck(
                        code="usage",
                        verdict="reject" if outcome == "disputed" else "keep",
                        outcome=outcome,
                    )
                ],
            )
        )
    return run


def test_a_disputed_code_is_marked_in_the_export_and_counted_in_runs_show(cli, tmp_path) -> None:
    _verified_run(tmp_path / "v1")
    exported = cli("export", "v1", "--format", "csv", "--runs-dir", tmp_path)
    assert exported.exit_code == 0, exported.output
    table = pd.read_csv(io.StringIO(exported.stdout), dtype=str)
    assert dict(zip(table["item_id"], table["disputed"], strict=True)) == {
        "i1": "False",
        "i2": "True",
        "i3": "False",
    }
    shown = cli("runs", "show", "v1", "--runs-dir", tmp_path, env={"COLUMNS": "200"})
    assert "second look" in shown.output and "disputed 1 of 3 checked code(s)" in shown.output


def test_a_run_without_a_second_look_has_no_disputed_column(cli, tmp_path) -> None:
    run = _verified_run(tmp_path / "v1")
    manifest = run.manifest()
    plain = manifest.model_copy(update={"config": manifest.config.replace(verify="off")})
    run.write_manifest(plain)
    exported = cli("export", "v1", "--format", "csv", "--runs-dir", tmp_path)
    assert "disputed" not in exported.stdout.splitlines()[0]
