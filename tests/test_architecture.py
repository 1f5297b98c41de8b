"""The architecture is enforced, not hoped for: import-linter contracts and the public API."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import llmcode
from tests.support import ROOT

# `python -m importlinter.cli` runs nothing (the module has no __main__): call the command itself
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1]))"
)


def test_import_linter_contracts_hold() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LINT, str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broken" not in done.stdout.split("Contracts:")[-1].lower() or "0 broken" in done.stdout


def test_sibling_modules_may_not_import_each_other_in_a_cycle() -> None:
    """The contract that catches a cycle like analysis.gold <-> analysis.study is configured."""
    with open(ROOT / "pyproject.toml", "rb") as handle:
        contracts = tomllib.load(handle)["tool"]["importlinter"]["contracts"]
    acyclic = [c for c in contracts if c["type"] == "acyclic_siblings"]
    assert [c["ancestors"] for c in acyclic] == [["llmcode"]]


def test_public_api_is_declared_and_importable() -> None:
    assert sorted(llmcode.__all__) == sorted(PUBLIC_API)
    for name in llmcode.__all__:
        assert getattr(llmcode, name) is not None, name


PUBLIC_API = [
    "LlmcodeError",
    "Taxonomy",
    "load_taxonomy",
    "ItemSet",
    "load_items",
    "load_codes",
    "Run",
    "RunStore",
    "RunConfig",
    "CodingRecord",
    "load_run_codes",
    "code",
    "resume",
    "estimate",
    "Estimate",
    "Backend",
    "code_file",
    "compute_agreement",
    "AgreementResult",
    "evaluate",
    "EvalResult",
    "RunInput",
    "alt_test",
    "AltTestMetric",
    "AltTestResult",
    "AltTestSettings",
    "calibrate",
    "RunCalibration",
    "audit",
    "AuditResult",
    "analyze",
    "AnalysisOptions",
    "Analysis",
    "build_report",
    "robustness",
    "Robustness",
    "stability",
    "Stability",
    "Report",
    "write_report",
    *(
        "TaxonomyError",
        "ItemsError",
        "CodesError",
        "BackendError",
        "RunStoreError",
        "OutputError",
        "AgreementError",
        "AnalysisError",
        "InterchangeError",
        "ConfigError",
        "SettingsError",
    ),
    "__version__",
]
