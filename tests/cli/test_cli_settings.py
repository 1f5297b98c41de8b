"""The CLI maps flags onto the library: every flag an error names exists, settings come from a
file or an earlier run, help has sections (bad choice values: tests/cli/test_choices.py)."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import typer

from llmcode.cli import get_app
from llmcode.cli.flags import as_flags
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA, ROOT

SNAPSHOT = json.loads((DATA / "interface.json").read_text(encoding="utf-8"))


def _commands() -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(command: Any, path: str) -> None:
        found[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(get_app()), "llmcode")
    return found


def _flags_in_core_messages() -> set[str]:
    """Flags (``--x``) and backticked settings in the string literals of core error raises."""
    found: set[str] = set()
    for path in (ROOT / "src" / "llmcode").rglob("*.py"):
        if "cli" in path.parts or "testserver" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            for part in ast.walk(node.exc):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    found |= set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", part.value))
                    found |= set(re.findall(r"--[a-z][a-z0-9-]+", as_flags(part.value)))
    return found


def test_every_flag_an_error_names_exists_and_is_not_hidden() -> None:
    visible = {
        opt
        for command in _commands().values()
        for param in command.params
        if param.param_type_name == "option" and not param.hidden
        for opt in param.opts
    }
    named = _flags_in_core_messages()
    assert named, "the scan finds flags in core messages"
    assert sorted(named - visible) == []


def test_code_help_lists_its_options_in_titled_sections(cli) -> None:
    result = cli("code", "--help", env={"COLUMNS": "100"})
    assert result.exit_code == 0
    titles = [line.rstrip(":") for line in result.output.splitlines() if re.match(r"^\w.*:$", line)]
    for title in ("Inputs", "Model and endpoint", "Guidance", "Sampling", "Limits and cost"):
        assert title in titles
    assert "Output" in titles and "\x1b[" not in result.output  # plain text off a terminal


def _run_settings(cli, *args) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("settings:")]
    return line


def test_a_run_is_repeated_from_its_toml_or_with_like(cli, tmp_path) -> None:
    with TestServer(ServerConfig()) as server:
        first = cli(
            "code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv", "--run-id", "r",
            "--base-url", server.base_url, "--runs-dir", tmp_path, "--samples", "2",
            "--model", "m1", "--temperature", "0.7", "--shots", "2", "--limit", "3",
        )  # fmt: skip
    assert first.exit_code == 0, first.output
    toml = cli("runs", "show", "r", "--toml", "--runs-dir", tmp_path)
    assert toml.exit_code == 0 and "[sampling]" in toml.output
    study = tmp_path / "study.toml"
    study.write_text(toml.output, encoding="utf-8")
    config = RunStore(tmp_path).open("r").manifest().config
    shown = cli("runs", "show", "r", "--runs-dir", tmp_path, env={"COLUMNS": "300"}).output
    (row,) = [line for line in shown.splitlines() if "fingerprint" in line and "settings" in line]
    assert config.fingerprint() in row and "samples 2" in row

    from_file = _run_settings(cli, "code", "--config", study, "--dry-run", "--runs-dir", tmp_path)
    like = _run_settings(cli, "code", "--like", "r", "--dry-run", "--runs-dir", tmp_path)
    assert config.fingerprint() in from_file and from_file == like
    assert "samples 2" in like and "temperature 0.7" in like and "model m1" in like
    changed = _run_settings(
        cli, "code", "--like", "r", "--samples", "3", "--dry-run", "--runs-dir", tmp_path
    )
    assert "samples 3" in changed and "temperature 0.7" in changed  # the command line wins


def test_a_bad_settings_file_names_the_setting(cli, tmp_path) -> None:
    study = tmp_path / "study.toml"
    study.write_text('taxonomy = "t.yaml"\nitems = "i.csv"\n[sampling]\ntemprature = 0.9\n')
    result = cli("code", "--config", study, "--dry-run")
    assert result.exit_code == 2
    assert "unknown setting 'temprature' (did you mean 'temperature'?)" in result.output


def test_the_cli_code_module_makes_no_backend() -> None:
    cli_dir = ROOT / "src" / "llmcode" / "cli"
    assert [p.name for p in cli_dir.glob("*.py") if "make_backend" in p.read_text()] == []


def test_settings_named_in_messages_are_shown_as_flags() -> None:
    assert as_flags("`id_column` 'id' not found; see `taxonomy_path`") == (
        "--id-column 'id' not found; see --taxonomy"
    )
