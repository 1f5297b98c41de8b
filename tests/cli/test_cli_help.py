"""Every command's --help follows one vocabulary: -h works, defaults are shown, flags look like
flags, repeatable values read "<Path>...", no help text ends in " .", -f is --format, human
codes are --human and a coder is --coder (older spellings hidden), and every command that reads
a run honours LLMCODE_RUNS_DIR."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from llmcode import __version__
from llmcode.cli import get_app

runner = CliRunner()
HIDDEN_ALIASES = (
    "--against",
    "--human-coder",
    "--screening-coder",
    "--coders",
    "--gold",
    "--gold-coder",
)


def commands() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []

    def walk(command: Any, path: str) -> None:
        out.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(get_app()), "")
    return out


COMMANDS = commands()


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p or "llmcode" for p, _ in COMMANDS])
def test_help_follows_the_vocabulary(path: str, command: Any) -> None:
    args = path.split() if path else []
    long = runner.invoke(get_app(), [*args, "--help"], env={"COLUMNS": "200"})
    short = runner.invoke(get_app(), [*args, "-h"], env={"COLUMNS": "200"})
    assert long.exit_code == 0, long.output
    assert short.exit_code == 0 and short.output == long.output
    text = long.output
    stray = [line for line in text.splitlines() if re.search(r"\s\.(\s|$)", line)]
    assert not stray, stray  # " ." is what is left of a "[...]" eaten as markup
    assert "<bool>" not in text  # a flag is shown as a flag, without a value
    assert "<list[" not in text  # a repeatable value reads "<Path>...", not typer's type name
    for param in command.params:
        if param.param_type_name != "option" or param.hidden:
            continue
        if "-f" in param.opts:
            assert "--format" in param.opts, f"{path}: -f is {param.opts}"
        assert not param.secondary_opts, f"{path} {param.opts}: shown as --x/--no-x"
        if param.is_flag or param.default in (None, (), []) or param.name == "help":
            continue
        assert param.show_default is not False, f"{path} {param.opts}: default hidden"
    visible = {
        o for p in command.params if p.param_type_name == "option" and not p.hidden for o in p.opts
    }
    assert not visible & set(HIDDEN_ALIASES), f"{path}: {visible & set(HIDDEN_ALIASES)} visible"
    if any(p.name == "run_ref" for p in command.params):
        assert "--runs-dir" in visible, f"{path} reads a run but has no --runs-dir"


def test_version_prints_the_version() -> None:
    result = runner.invoke(get_app(), ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_texts_do_not_end_with_a_space_before_the_period() -> None:
    for path, command in COMMANDS:
        for param in command.params:
            text = getattr(param, "help", None) or ""
            assert not re.search(r"\s\.$", text), f"{path} {param.name}: {text!r}"
