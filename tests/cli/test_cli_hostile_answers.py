"""Issue 25 #24 and #25 (hostile input, round 3): empty names, bad option values, messages."""

from __future__ import annotations

import pytest

from llmcode.errors import SettingsError
from llmcode.store.config import make_config
from tests.support import DATA

# 24. --model '' was accepted.


@pytest.mark.parametrize(
    "command",
    [
        ["code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv"],
        ["open-code", "-i", DATA / "items.csv"],
        ["batch", "prepare", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv"],
    ],
)
def test_an_empty_model_is_a_usage_error(cli, tmp_path, command):
    result = cli(*command, "--model", "", "--runs-dir", tmp_path, env={"OPENAI_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert "--model" in result.output and "empty" in result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "settings", [{"model": ""}, {"model": "  "}, {"base_url": ""}, {"more_models": ("a", "")}]
)
def test_an_empty_model_or_base_url_in_the_library_is_a_settings_error(settings):
    with pytest.raises(SettingsError, match="empty"):
        make_config(taxonomy_path="t.yaml", items_path="i.csv", **settings)


# 25. Bad option values exit 2; messages say what happened.


def coded_run(cli, runs):
    from llmcode.testserver import ServerConfig, TestServer

    with TestServer(ServerConfig()) as server:
        args = ["code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv"]
        result = cli(*args, "--base-url", server.base_url, "--runs-dir", runs, "--run-id", "r1")
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["export", "r1", "--format", "xlsx"], "--format"),
        (["analyze", "r1", "--plan", "0"], "--plan"),
        (["analyze", "r1", "--plan", "1.5"], "--plan"),
        (["analyze", "r1", "--plan", "-0.1"], "--plan"),
    ],
)
def test_a_bad_option_value_is_a_usage_error(cli, tmp_path, args, option):
    coded_run(cli, tmp_path)
    result = cli(*args, "--runs-dir", tmp_path)
    assert result.exit_code == 2, result.output
    assert option in result.output


def test_export_reviewed_without_decisions_says_so_instead_of_ok(cli, tmp_path):
    coded_run(cli, tmp_path)
    out = tmp_path / "reviewed.csv"
    result = cli("export", "r1", "--reviewed", "-o", out, "--runs-dir", tmp_path)
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "no review decisions" in said and "ok" not in said.split()
    assert not out.exists()


def test_a_failed_markdown_report_leaves_no_figure_folder(cli, tmp_path):
    coded_run(cli, tmp_path)
    target = tmp_path / "out"
    target.mkdir()
    result = cli("report", "r1", "--format", "md", "-o", target, "--runs-dir", tmp_path)
    assert result.exit_code == 1, result.output
    assert "directory" in result.output
    assert not (tmp_path / "out_files").exists()


def test_a_markdown_report_whose_text_cannot_be_written_takes_its_figures_back(
    cli, tmp_path, monkeypatch
):
    import llmcode
    from llmcode.analysis import rendering
    from llmcode.errors import OutputError
    from llmcode.store.runs import RunStore

    coded_run(cli, tmp_path)
    report = llmcode.build_report(RunStore(tmp_path).open("r1"), bootstrap=0)

    def full_disk(path, data, error):
        raise error(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(rendering, "atomic_write", full_disk)
    with pytest.raises(OutputError, match="No space left"):
        rendering.write_report(report, tmp_path / "report.md", "md")
    assert not (tmp_path / "report_files").exists()


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("items.csv", b"item_id,text\ni1,hello\ni2,bad \xff byte\n", 3),
        ("items.jsonl", b'{"item_id":"i1","text":"ok"}\n{"item_id":"i2","text":"\xfe"}\n', 2),
    ],
)
def test_an_items_file_that_is_not_utf8_is_named_with_its_line(cli, tmp_path, name, content, line):
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("code", "-t", DATA / "tiny.yaml", "-i", path, "--dry-run")
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f"{name}:{line}: not valid UTF-8" in said and "(byte" not in said


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("codes.csv", b"item_id,coder,code\ni1,a,usage\ni2,a,\xff\n", 3),
        ("codes.jsonl", b'{"item_id":"i1","coder":"a","code":"\xff"}\n', 1),
    ],
)
def test_a_codes_file_that_is_not_utf8_is_named_with_its_line(tmp_path, name, content, line):
    from llmcode.codes import load_codes
    from llmcode.errors import CodesError

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CodesError, match=f"{name}:{line}: not valid UTF-8") as caught:
        load_codes(path)
    assert "position" not in str(caught.value)
