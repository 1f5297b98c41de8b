"""llmcode: LLM-assisted qualitative coding with verified evidence, agreement, review, reports.

The names in ``__all__`` are the library API a researcher may script in a notebook: load a
taxonomy and items, code them into a run, read codes, measure agreement, evaluate against gold
codes, analyse, build and write a report; and the error classes they raise. They are
imported lazily, so ``import llmcode`` (and ``llmcode --help``) stays instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "LlmcodeError": "llmcode.errors",
    "Taxonomy": "llmcode.taxonomy.model",
    "load_taxonomy": "llmcode.taxonomy.model",
    "ItemSet": "llmcode.items",
    "load_items": "llmcode.items",
    "load_codes": "llmcode.codes",
    "Run": "llmcode.store.runs",
    "RunStore": "llmcode.store.runs",
    "RunConfig": "llmcode.store.config",
    "CodingRecord": "llmcode.store.models",
    "load_run_codes": "llmcode.store.runs",
    "code": "llmcode.coding.notebook",
    "resume": "llmcode.coding.notebook",
    "estimate": "llmcode.coding.notebook",
    "Estimate": "llmcode.coding.costs",
    "Backend": "llmcode.llm.backends.base",
    "code_file": "llmcode.coding.notebook",
    "compute_agreement": "llmcode.quality.agreement",
    "AgreementResult": "llmcode.quality.agreement",
    "evaluate": "llmcode.quality.eval",
    "EvalResult": "llmcode.quality.eval",
    "RunInput": "llmcode.quality.eval_inputs",
    "alt_test": "llmcode.quality.alttest",
    "AltTestMetric": "llmcode.quality.alttest",
    "AltTestResult": "llmcode.quality.alttest",
    "AltTestSettings": "llmcode.quality.alttest",
    "calibrate": "llmcode.quality.run_calibration",
    "RunCalibration": "llmcode.quality.run_calibration",
    "audit": "llmcode.quality.audit",
    "AuditResult": "llmcode.quality.audit",
    "analyze": "llmcode.analysis.studies",
    "AnalysisOptions": "llmcode.analysis.studies",
    "Analysis": "llmcode.analysis.study",
    "build_report": "llmcode.analysis.studies",
    "robustness": "llmcode.analysis.robustness",
    "Robustness": "llmcode.analysis.robustness",
    "stability": "llmcode.quality.stability",
    "Stability": "llmcode.quality.stability",
    "Report": "llmcode.analysis.report",
    "write_report": "llmcode.analysis.rendering",
    "TaxonomyError": "llmcode.errors",
    "ItemsError": "llmcode.errors",
    "CodesError": "llmcode.errors",
    "BackendError": "llmcode.errors",
    "RunStoreError": "llmcode.errors",
    "OutputError": "llmcode.errors",
    "AgreementError": "llmcode.errors",
    "AnalysisError": "llmcode.errors",
    "InterchangeError": "llmcode.errors",
    "ConfigError": "llmcode.errors",
    "SettingsError": "llmcode.errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'llmcode' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
