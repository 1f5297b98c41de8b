"""Instant start: `llmcode --help`, `COMMAND --help` and `--version` import no heavy library, and
the code imports what it declares (typer vendors click; llmcode never imports click)."""

import ast
import os
import subprocess
import sys

import pytest

from tests.support import ROOT

HEAVY = ("scipy", "pandas", "openai", "numpy", "llama_cpp", "xllamacpp", "statsmodels", "sklearn")
PROBE = """
import sys
sys.argv = ["llmcode", *sys.argv[1:]]
from llmcode.cli import main
try:
    main()
except SystemExit:
    pass
print("LOADED", " ".join(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def loaded_after(*args: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    line = next(x for x in result.stderr.splitlines() if x.startswith("LOADED"))
    return line.split()[1:]


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("code", "--help"), ("agree", "--help"), ("taxonomy", "--help")],
)
def test_help_and_version_import_no_heavy_library(args):
    assert loaded_after(*args) == []


def test_no_module_imports_click():
    offenders = []
    for path in (ROOT / "src" / "llmcode").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(n == "click" or n.startswith("click.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_constants_copied_into_the_cli_match_the_core():
    import typer

    from llmcode.cli import get_app
    from llmcode.cli.choices import ReviewQueue
    from llmcode.quality.audit import MIN_SHARE
    from llmcode.review.queues import QUEUES

    assert tuple(QUEUES) == tuple(ReviewQueue)
    audit = typer.main.get_command(get_app()).commands["audit"]
    [min_share] = [p for p in audit.params if p.name == "min_share"]
    assert min_share.default == MIN_SHARE
