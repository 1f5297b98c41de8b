"""`llmcode audit` and `llmcode calibrate` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.evidence import Span
from llmcode.store.models import CodingRecord, RunConfig, RunManifest, Sample
from llmcode.store.runs import Run

DATA = Path(__file__).parents[1] / "data"
runner = CliRunner()


def record(item_id: str, *codes: str) -> CodingRecord:
    """A merged 3-sample record; the first code wins, with a verified quote."""
    chosen = CodeAssignment(
        code=codes[0],
        justification=f"the text is about {codes[0]}",
        evidence=[Span(quote=f"text of {item_id}", start=0, end=10, verified=True)],
    )
    return CodingRecord(
        item_id=item_id,
        status="ok",
        codes=[chosen],
        samples=[Sample(codes=[c], status="ok") for c in codes],
    )


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A run of 9 items (vote shares 1 and 2/3) and a human file where x1 and x2 look wrong."""
    runs = tmp_path / "runs"
    path = runs / "r1"
    path.mkdir(parents=True)
    (path / "taxonomy.yaml").write_text((DATA / "tiny.yaml").read_text(encoding="utf-8"))
    run = Run(path)
    config = RunConfig(taxonomy_path="tiny.yaml", items_path="items.csv", samples=3)
    run.write_manifest(RunManifest(run_id="r1", config=config))
    ids = [f"u{n}" for n in range(3)] + [f"p{n}" for n in range(3)] + ["m1", "x1", "x2"]
    run.write_items(Item(item_id=i, text=f"text of {i}") for i in ids)
    for n in range(3):
        run.append_coding(record(f"u{n}", "usage", "usage", "usage"))
        run.append_coding(record(f"p{n}", "performance", "performance", "performance"))
    run.append_coding(record("m1", "resources", "resources", "usage"))
    run.append_coding(record("x1", "resources", "resources", "resources"))
    run.append_coding(record("x2", "usage", "usage", "usage"))
    human = {f"u{n}": "usage" for n in range(3)} | {f"p{n}": "performance" for n in range(3)}
    human |= {"m1": "resources", "x1": "usage", "x2": "performance"}
    rows = [{"item_id": i, "coder": "ana", "code": c} for i, c in human.items()]
    rows += [{"item_id": i, "coder": "ben", "code": c} for i, c in human.items() if i != "x1"]
    codes = tmp_path / "codes.csv"
    pd.DataFrame(rows).to_csv(codes, index=False)
    return runs, codes


def invoke(*args: str | Path):
    return runner.invoke(get_app(), [str(a) for a in args], env={"COLUMNS": "200"})


def test_audit_lists_the_likely_errors_with_the_models_case(workspace) -> None:
    runs, codes = workspace
    result = invoke("audit", "r1", "--human", codes, "--coder", "ana", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert "x1" in result.output and "x2" in result.output
    assert "the text is about resources" in result.output
    assert "2 of 9 label(s) flagged" in result.output
    assert "per-coder quality" in result.output
    assert "m1" not in result.output.split("per-coder")[0]


def test_audit_json_has_the_promised_keys_in_rank_order(workspace) -> None:
    runs, codes = workspace
    result = invoke("audit", "r1", "--human", codes, "--coder", "ana", "--json", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [e["item_id"] for e in data["items"]] == ["x1", "x2"]
    entry = data["items"][0]
    assert {"item_id", "human_code", "model_code", "score", "justification", "evidence"} <= set(
        entry
    )
    assert (entry["human_code"], entry["model_code"], entry["score"]) == ("usage", "resources", 1.0)
    assert {q["coder"] for q in data["coders"]} == {"ana", "ben"}


def test_audit_queue_writes_audit_json_and_points_to_the_review(workspace) -> None:
    runs, codes = workspace
    result = invoke(
        "audit",
        "r1",
        "--human",
        codes,
        "--coder",
        "ana",
        "--top",
        "1",
        "--queue",
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 0, result.output
    data = json.loads((runs / "r1" / "audit.json").read_text(encoding="utf-8"))
    assert [e["item_id"] for e in data["items"]] == ["x1"]
    assert "llmcode review r1 --queue audit" in result.output


def test_audit_with_several_coders_asks_which_one(workspace) -> None:
    runs, codes = workspace
    result = invoke("audit", "r1", "--human", codes, "--runs-dir", runs)
    assert result.exit_code == 1
    assert "2 coders (ana, ben)" in result.output and "choose one with coder" in result.output


def test_audit_of_a_missing_codes_file_is_a_clear_error(workspace, tmp_path: Path) -> None:
    runs, _codes = workspace
    result = invoke("audit", "r1", "--human", tmp_path / "nope.csv", "--runs-dir", runs)
    assert result.exit_code == 1
    assert "nope.csv: no such file" in result.output


def test_calibrate_prints_the_reliability_table_ece_and_alpha(workspace) -> None:
    runs, codes = workspace
    result = invoke("calibrate", "r1", "--human", codes, "--coder", "ana", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    # 8 codes at confidence 1 (6 right), 1 at 2/3 (right): ECE = (8 × 0.25 + 1/3) / 9
    assert f"ECE {(8 * 0.25 + 1 / 3) / 9:.3f} over 9 code(s)" in result.output
    assert "0.60–0.70" in result.output
    assert "run-to-run α across 3 samples" in result.output


def test_calibrate_json_and_plot(workspace, tmp_path: Path) -> None:
    runs, codes = workspace
    plot = tmp_path / "reliability.png"
    result = invoke(
        "calibrate",
        "r1",
        "--human",
        codes,
        "--coder",
        "ben",
        "--json",
        "--bins",
        "5",
        "--plot",
        plot,
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["source"], data["n_bins"], data["n"]) == ("vote", 5, 8)
    assert len(data["bins"]) == 5
    # nominal α of the 3 samples over the 9 items; krippendorff.alpha gives the same 0.88546
    assert data["self_agreement"] == pytest.approx(0.8854625550660793)
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_calibrate_rejects_an_unknown_confidence_source(workspace) -> None:
    runs, codes = workspace
    result = invoke(
        "calibrate",
        "r1",
        "--human",
        codes,
        "--coder",
        "ana",
        "--confidence",
        "vibes",
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 2
    assert "'vibes' is not one of 'auto', 'vote', 'logprob', 'stated'" in " ".join(
        result.output.split()
    )


def test_calibrate_with_stated_confidence_on_a_sampled_run_explains_why_not(workspace) -> None:
    runs, codes = workspace
    result = invoke(
        "calibrate",
        "r1",
        "--human",
        codes,
        "--coder",
        "ana",
        "--confidence",
        "stated",
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 1
    assert "replaced by vote shares" in result.output


def test_the_review_audit_queue_reads_the_written_file(workspace) -> None:
    queues = pytest.importorskip("llmcode.review.queues")
    runs, codes = workspace
    result = invoke(
        "audit", "r1", "--human", codes, "--coder", "ana", "--queue", "--runs-dir", runs
    )
    assert result.exit_code == 0, result.output
    run = Run(runs / "r1")
    items = queues.load_review_items(run)
    assert [i.item_id for i in queues.audit(items, run)] == ["x1", "x2"]


def test_audit_of_a_single_sample_run_says_the_ranking_is_flat(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = runs / "one"
    path.mkdir(parents=True)
    (path / "taxonomy.yaml").write_text((DATA / "tiny.yaml").read_text(encoding="utf-8"))
    run = Run(path)
    run.write_manifest(
        RunManifest(run_id="one", config=RunConfig(taxonomy_path="t", items_path="i"))
    )
    for item_id, code in (("a", "usage"), ("b", "usage"), ("c", "resources")):
        single = record(item_id, code).model_copy(update={"samples": []})
        run.append_coding(single)
    codes = tmp_path / "codes.csv"
    codes.write_text("item_id,coder,code\na,ana,usage\nb,ana,resources\nc,ana,resources\n")
    result = invoke("audit", "one", "--human", codes, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert "1 of 3 label(s) flagged" in result.output
    assert "one coding per item" in result.output
    first = result.output.strip().splitlines()[0]
    assert "one coding per item" in first  # the caveat comes before the table, not after it
    as_json = invoke("audit", "one", "--human", codes, "--runs-dir", runs, "--json")
    assert "one coding per item" in as_json.stderr and "one coding" not in as_json.stdout


def test_calibrate_shows_the_share_and_error_rate_above_each_threshold(workspace) -> None:
    runs, codes = workspace
    result = invoke(
        "calibrate",
        "r1",
        "--human",
        codes,
        "--coder",
        "ana",
        "--json",
        "--threshold",
        "0.9",
        "--threshold",
        "0.5",
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 0, result.output
    rows = {row["threshold"]: row for row in json.loads(result.stdout)["thresholds"]}
    # m1 has vote share 2/3; x1 and x2 are wrong at vote share 1
    assert (rows[0.9]["n_above"], rows[0.9]["n_gold_above"], rows[0.9]["errors"]) == (8, 8, 2)
    assert rows[0.9]["error_rate"] == 0.25 and rows[0.9]["share_above"] == pytest.approx(8 / 9)
    assert (rows[0.5]["n_above"], rows[0.5]["errors"]) == (9, 2)
    table = invoke("calibrate", "r1", "--human", codes, "--coder", "ana", "--runs-dir", runs)
    assert "confidence thresholds" in table.output and "25.0%" in table.output


def test_the_library_calibration_is_what_calibrate_json_prints(workspace) -> None:
    import llmcode

    runs, codes = workspace
    args = ["--human", codes, "--coder", "ben", "--bins", "5", "--threshold", "0.8"]
    printed = invoke("calibrate", "r1", *args, "--json", "--runs-dir", runs)
    assert printed.exit_code == 0, printed.output
    result = llmcode.calibrate("r1", codes, coder="ben", bins=5, thresholds=[0.8], runs_dir=runs)
    assert result.to_dict() == json.loads(printed.stdout)
    frame = pd.read_csv(codes, dtype=str)
    from_frame = llmcode.calibrate(Run(runs / "r1"), frame, coder="ben", bins=5, thresholds=[0.8])
    assert from_frame.to_dict() == result.to_dict()
    assert (result.samples, result.calibration.source) == (3, "vote")


def test_the_library_refuses_an_unknown_confidence_source_naming_the_setting(workspace) -> None:
    import llmcode

    runs, codes = workspace
    with pytest.raises(llmcode.ConfigError, match="confidence must be one of auto, vote"):
        llmcode.calibrate("r1", codes, coder="ana", confidence="vibes", runs_dir=runs)


def test_the_library_audit_is_what_audit_json_prints(workspace) -> None:
    import llmcode

    runs, codes = workspace
    printed = invoke(
        "audit", "r1", "--human", codes, "--coder", "ana", "--json", "--runs-dir", runs
    )
    assert printed.exit_code == 0, printed.output
    result = llmcode.audit("r1", codes, coder="ana", runs_dir=runs)
    assert result.model_dump(mode="json") == json.loads(printed.stdout)
    assert result.ranked and [c.coder for c in result.coders] == ["ana", "ben"]


def test_the_library_says_when_a_single_sample_audit_is_no_ranking(tmp_path: Path) -> None:
    import llmcode

    runs = tmp_path / "runs"
    path = runs / "one"
    path.mkdir(parents=True)
    (path / "taxonomy.yaml").write_text((DATA / "tiny.yaml").read_text(encoding="utf-8"))
    run = Run(path)
    run.write_manifest(
        RunManifest(run_id="one", config=RunConfig(taxonomy_path="t", items_path="i"))
    )
    for item_id, code in (("a", "usage"), ("b", "usage"), ("c", "resources")):
        run.append_coding(record(item_id, code).model_copy(update={"samples": []}))
    codes = pd.DataFrame(
        {"item_id": ["a", "b", "c"], "coder": "ana", "code": ["usage", "resources", "resources"]}
    )
    result = llmcode.audit(run, codes)
    assert not result.ranked and result.n_flagged == 1 and result.coders == []


@pytest.mark.parametrize(
    ("name", "message"), [("plot.csv", "a figure is written as"), ("adir", "it is a directory")]
)
def test_calibrate_plot_to_a_path_that_cannot_hold_a_figure_is_one_line(
    workspace, tmp_path: Path, name: str, message: str
) -> None:
    """Issue 25, defects 19 and 25: ``--plot x.csv`` was a traceback, ``--plot DIR`` said
    "wrote DIR" and wrote ``DIR.png``."""
    runs, codes = workspace
    (tmp_path / "adir").mkdir()
    result = invoke(
        "calibrate",
        "r1",
        "--human",
        codes,
        "--coder",
        "ben",
        "--plot",
        tmp_path / name,
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 1 and message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != runs.name) == sorted(
        {"adir", codes.name} & {p.name for p in tmp_path.iterdir()}
    )
