"""Every failure a one-line message: file-system trouble, corrupt run files, usage errors."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA


def one_line_error(result, *needles: str, code: int = 1) -> None:
    text = "".join(result.output.split())  # rich wraps long paths anywhere
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for needle in needles:
        assert "".join(needle.split()) in text, (needle, result.output)


def code_args(base_url: str, runs: Path, *extra: object) -> list[object]:
    return [
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--base-url",
        base_url,
        "--runs-dir",
        runs,
        "--run-id",
        "r1",
        *extra,
    ]


@pytest.fixture(scope="module")
def server():
    with TestServer(ServerConfig()) as running:
        yield running


@pytest.fixture
def coded(cli, server, tmp_path):
    result = cli(*code_args(server.base_url, tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    return tmp_path / "runs"


def test_a_runs_folder_under_a_file_is_one_line(cli, server, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = cli(*code_args(server.base_url, tmp_path / "afile" / "runs"))
    one_line_error(result, "cannot create the run folder", "afile")


@pytest.mark.parametrize("target", ["a directory", "under a file", "read-only"])
def test_an_output_path_that_cannot_be_written_is_one_line(
    cli, coded, tmp_path, monkeypatch, target
):
    (tmp_path / "afile").write_text("x")
    out = {
        "a directory": tmp_path,
        "under a file": tmp_path / "afile" / "x.csv",
        "read-only": tmp_path / "ro.csv",
    }[target]
    if target == "read-only":
        from llmcode.store import jsonl

        real = jsonl.open_file

        def refuse(path, flags, *args, **kwargs):
            if path.name.startswith("ro.csv"):  # the file, or the temporary file beside it
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real(path, flags, *args, **kwargs)

        monkeypatch.setattr(jsonl, "open_file", refuse)
    result = cli("export", "r1", "--runs-dir", coded, "-o", out)
    one_line_error(result, "cannot write")


def test_disk_full_mid_run_keeps_the_records_and_closes_the_manifest(
    cli, server, tmp_path, monkeypatch
):
    from llmcode.store import jsonl

    real_open, appends = jsonl.open_file, []

    def open_(path, flags, *args, **kwargs):
        if path.name == "codings.jsonl" and flags & os.O_APPEND:
            appends.append(path)
            if len(appends) > 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(jsonl, "open_file", open_)
    result = cli(*code_args(server.base_url, tmp_path / "runs", "--concurrency", "1"))
    one_line_error(result, "No space left on device", "--resume")
    monkeypatch.undo()
    run = RunStore(tmp_path / "runs").open("r1")
    assert len(run.codings()) == 2
    assert run.manifest().status == "interrupted"
    assert not list(run.path.glob("*.tmp"))


@pytest.mark.parametrize("name", ["manifest.json", "codings.jsonl", "decisions.jsonl"])
def test_invalid_utf8_in_a_run_file_is_one_line(cli, coded, name):
    path = coded / "r1" / name
    path.write_bytes(b'{"x": "\xff"}\n')
    command = {
        "manifest.json": ["runs", "show", "r1"],
        "codings.jsonl": ["export", "r1"],
        "decisions.jsonl": ["export", "r1", "--reviewed"],
    }[name]
    result = cli(*command, "--runs-dir", coded)
    one_line_error(result, name, "not valid UTF-8")


def test_runs_list_marks_a_corrupt_run_and_lists_the_rest(cli, coded):
    broken = coded / "zz-broken"
    broken.mkdir()
    (broken / "manifest.json").write_bytes(b"\xff\xfe")
    result = cli("runs", "list", "--runs-dir", coded)
    assert result.exit_code == 0, result.output
    assert "r1" in result.output and "zz-broken" in result.output
    assert "unreadable" in result.output


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--level", "bogus"], "--level"),
        (["--evidence", "bogus"], "--evidence"),
        (["--backend", "bogus"], "--backend"),
    ],
)
def test_a_bad_option_value_is_a_usage_error_with_exit_2(cli, tmp_path, extra, needle):
    result = cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--runs-dir",
        tmp_path,
        "--dry-run",
        *extra,
    )
    assert result.exit_code == 2, result.output
    assert needle in result.output and "bogus" in result.output


def test_a_missing_taxonomy_is_a_usage_error_with_exit_2(cli, tmp_path):
    result = cli("code", "-i", DATA / "items.csv", "--runs-dir", tmp_path)
    assert result.exit_code == 2, result.output
    assert "--taxonomy" in result.output


def test_runs_show_is_a_readable_summary_and_json_gives_the_manifest(cli, coded):
    import json

    shown = cli("runs", "show", "r1", "--runs-dir", coded, env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    summary, toml = shown.output.split("settings (repeat with")
    assert "{" not in summary and '"' not in summary  # no JSON dumped at people
    assert "[sampling]" in toml and "{" not in toml  # the settings as TOML, to repeat the run
    assert "ok 4" in shown.output and "gpt-4o-mini" in shown.output
    numbers = [line for line in shown.output.splitlines() if re.match(r"│ (counts|usage) ", line)]
    assert len(numbers) == 2 and not re.search(r"\d\.0\b", " ".join(numbers))  # integers
    manifest = json.loads(cli("runs", "show", "r1", "--runs-dir", coded, "--json").output)
    assert manifest["run_id"] == "r1" and manifest["counts"]["ok"] == 4


def test_runs_list_shows_the_whole_id_even_in_a_narrow_terminal(cli, coded):
    long_id = "pilot-2026-11-30-interviews-wave-two-final"
    (coded / "r1").rename(coded / long_id)
    run = RunStore(coded).open(long_id)
    run.write_manifest(run.manifest().model_copy(update={"run_id": long_id}))
    result = cli("runs", "list", "--runs-dir", coded, env={"COLUMNS": "60"})
    assert long_id in result.output.replace("\n", "")
    assert long_id in result.output  # on one line: the id is what users copy


def test_export_says_which_confidence_it_gives(cli, coded, tmp_path):
    import pandas as pd

    out = tmp_path / "codes.csv"
    assert cli("export", "r1", "--runs-dir", coded, "-o", out).exit_code == 0
    frame = pd.read_csv(out)
    assert set(frame["confidence_kind"]) == {"log-probability"}  # the test server gives them
    records = RunStore(coded).open("r1").latest_codings()
    for row in frame.itertuples():
        assert row.confidence == records[row.item_id].probabilities[row.code]


def test_a_report_written_under_a_file_or_onto_a_folder_is_one_line(cli, coded, tmp_path):
    (tmp_path / "afile").write_text("x")
    for out, named in ((tmp_path / "afile" / "report.html", "afile"), (tmp_path, tmp_path.name)):
        result = cli("report", "r1", "--runs-dir", coded, "-o", out, "--bootstrap", "0")
        one_line_error(result, named)
