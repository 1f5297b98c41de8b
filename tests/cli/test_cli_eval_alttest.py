"""`llmcode eval RUN --human CODES --alt-test`: the alternative annotator test from the CLI.

A fake-model run codes the 54 closed-coded issues of the bundled sample (right except on ~10%
of items, see tests/support/eval_runs.py); ana and ben's codes (examples/ptm-issues.codes.csv,
52 items coded by both) are the humans. The CLI's JSON equals the library's `alt_test` on the
same annotations; a codes file holding the model's codes stands in for the run; and the
refusals reach the user as exit 1 with the message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.quality.alttest import alt_test
from llmcode.store.runs import RunStore
from tests.support.eval_runs import CODES, TAXONOMY, make_run, reference_codes


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("alttest")
    return make_run(RunStore(root / "runs"), TAXONOMY, CODES, "fake", "fake-model").path


def invoke(*args: object) -> object:
    return CliRunner().invoke(get_app(), [str(a) for a in args], env={"COLUMNS": "120"})


def model_codes(run_dir: Path) -> dict[str, str]:
    from llmcode.store.runs import Run

    records = Run(run_dir).latest_codings()
    return {i: r.codes[0].code for i, r in records.items() if r.codes}


def test_json_gives_the_alt_test_as_the_issue_spells_it(run_dir) -> None:
    result = invoke("eval", run_dir, "--human", CODES, "--alt-test", "--json", "--bootstrap", 0)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["alt_test"]
    assert {"winning_rate", "advantage_probability", "epsilon", "passed", "per_coder"} <= set(out)
    assert set(out["per_coder"]) == {"ana", "ben"}
    assert {"p_value", "rejected"} <= set(out["per_coder"]["ana"])
    expected = alt_test(model_codes(run_dir), reference_codes())
    assert out["winning_rate"] == expected.winning_rate
    assert out["advantage_probability"] == pytest.approx(expected.advantage_probability)
    for coder in ("ana", "ben"):
        assert out["per_coder"][coder]["p_value"] == pytest.approx(
            expected.per_coder[coder].p_value
        )
    assert out["epsilon"] == 0.2
    assert out["excluded_items"] == ["notes-ner-76", "segmentor-94"]  # only ana coded them


def test_epsilon_and_q_reach_the_test(run_dir) -> None:
    args = ("eval", run_dir, "--human", CODES, "--alt-test", "--json", "--bootstrap", 0)
    result = invoke(*args, "--epsilon", 0.05, "--q", 0.01)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["alt_test"]
    expected = alt_test(model_codes(run_dir), reference_codes(), epsilon=0.05, q=0.01)
    assert (out["epsilon"], out["q"]) == (0.05, 0.01)
    assert out["winning_rate"] == expected.winning_rate
    assert [c["rejected"] for c in out["per_coder"].values()] == [
        c.rejected for c in expected.per_coder.values()
    ]


def test_the_table_shows_the_verdict_and_each_coder(run_dir) -> None:
    result = invoke("eval", run_dir, "--human", CODES, "--alt-test", "--bootstrap", 0)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Alternative annotator test · fake" in said
    assert "winning rate ω" in said and "advantage probability ρ" in said
    assert "2 item(s) coded by one human only are left out" in said


def test_a_codes_file_stands_in_for_a_run(run_dir, tmp_path) -> None:
    codes = model_codes(run_dir)
    path = tmp_path / "other-tool.csv"
    pd.DataFrame(
        {"item_id": list(codes), "coder": "other-tool", "code": list(codes.values())}
    ).to_csv(path, index=False)
    args = ("--human", CODES, "--alt-test", "--json", "--bootstrap", 0)
    from_file = invoke("eval", path, *args)
    from_run = invoke("eval", run_dir, *args)
    assert from_file.exit_code == 0, from_file.output
    file_out, run_out = json.loads(from_file.stdout), json.loads(from_run.stdout)
    assert file_out["alt_test"] == run_out["alt_test"]
    assert file_out["runs"][0]["model"] == "other-tool"
    assert file_out["runs"][0]["cohen_kappa"] == run_out["runs"][0]["cohen_kappa"]


def test_a_codes_file_with_two_coders_is_refused(tmp_path) -> None:
    result = invoke("eval", CODES, "--human", CODES, "--alt-test")
    assert result.exit_code == 1
    assert "holds codes from 2 coders (ana, ben)" in " ".join(result.output.split())


def test_one_human_coder_is_refused_with_the_reason(run_dir) -> None:
    result = invoke("eval", run_dir, "--human", CODES, "--coder", "ana", "--alt-test")
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "needs at least 2 human coders" in said and "have 1 (ana)" in said


def test_epsilon_without_the_test_is_refused(run_dir) -> None:
    result = invoke("eval", run_dir, "--human", CODES, "--epsilon", 0.1)
    assert result.exit_code == 1
    assert "only apply to the alternative annotator test" in " ".join(result.output.split())


def test_the_readme_example_numbers(run_dir, tmp_path) -> None:
    """README, "Will a reviewer accept these codes?": the run with examples passes (ω 1, ρ 0.94),
    at ε 0.1 it wins against ben only; the run without examples fails (ω 0, ρ 0.73)."""
    from tests.support.eval_runs import strip_examples

    def alt(run: Path, *extra: object) -> dict:
        args = ("eval", run, "--human", CODES, "--alt-test", "--json", "--bootstrap", 0)
        result = invoke(*args, *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["alt_test"]

    passed = alt(run_dir)
    assert (passed["winning_rate"], round(passed["advantage_probability"], 2)) == (1.0, 0.94)
    lenient = alt(run_dir, "--epsilon", 0.1)
    assert lenient["winning_rate"] == 0.5
    assert {c: v["rejected"] for c, v in lenient["per_coder"].items()} == {
        "ana": False,
        "ben": True,
    }
    short = strip_examples(TAXONOMY, tmp_path / "short.yaml")
    other = make_run(RunStore(tmp_path / "runs"), short, CODES, "no-examples", "fake-model")
    failed = alt(other.path)
    assert (failed["winning_rate"], round(failed["advantage_probability"], 2)) == (0.0, 0.73)
    assert [round(c["p_value"], 3) for c in failed["per_coder"].values()] == [0.865, 0.293]


def test_evaluate_takes_one_coders_codes_as_a_dataframe_as_it_takes_the_file(
    run_dir, tmp_path
) -> None:
    from llmcode.quality.eval import evaluate

    codes = model_codes(run_dir)
    frame = pd.DataFrame(
        {"item_id": list(codes), "coder": "other-tool", "code": list(codes.values())}
    )
    path = tmp_path / "other.csv"
    frame.to_csv(path, index=False)
    from_file = evaluate([path], CODES, bootstrap=0)
    from_frame = evaluate([frame], CODES, bootstrap=0)
    assert from_frame.runs[0].model == "other-tool" and from_frame.runs[0].run == "other-tool"
    assert from_frame.runs[0].cohen_kappa == from_file.runs[0].cohen_kappa
    assert from_frame.runs[0].per_code == from_file.runs[0].per_code
