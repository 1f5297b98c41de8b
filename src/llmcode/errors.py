"""The one exception tree of llmcode.

Library code raises these; only the CLI and the review TUI turn them into messages::

    LlmcodeError(message, hint=None)      every error a user can cause or fix
    ├── TaxonomyError                     taxonomy YAML: file, line, field
    ├── ItemsError                        item files: file, column, row, item_id
    ├── CodesError                        long-format code files (item_id, coder, code)
    ├── BackendError                      LLM endpoint or embedded model failed for good
    ├── RunStoreError                     runs/<run_id>: missing, corrupt, conflicting
    ├── OutputError                       an output file that cannot be written (and why)
    ├── AgreementError                    agreement cannot be computed (and why)
    ├── AnalysisError                     analysis / report inputs
    ├── InterchangeError                  REFI-QDA and GitHub import/export
    └── ConfigError                       options that contradict each other
        └── SettingsError                 a setting's value out of range or unknown
"""

from __future__ import annotations


class LlmcodeError(Exception):
    """Base class: a message saying what failed and where, and an optional hint of what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class TaxonomyError(LlmcodeError):
    """A taxonomy file is missing, not YAML, or not a valid taxonomy."""


class ItemsError(LlmcodeError):
    """An items file is missing, unreadable, or lacks the id/text columns."""


class CodesError(LlmcodeError):
    """A long-format codes file (item_id, coder, code) is missing or malformed."""


class BackendError(LlmcodeError):
    """The LLM backend failed after retries, or cannot be configured."""

    response: object = None
    """An answer that came back but cannot be used (no choices): its usage was paid for."""


class RunStoreError(LlmcodeError):
    """A run directory is missing, corrupt, or would be overwritten."""


class OutputError(LlmcodeError):
    """An output file cannot be written: a directory, under a file, read-only, disk full."""


class AgreementError(LlmcodeError):
    """Agreement cannot be computed on the given codes."""


class AnalysisError(LlmcodeError):
    """Analysis or report inputs are missing or inconsistent."""


class InterchangeError(LlmcodeError):
    """REFI-QDA or GitHub import/export failed."""


class ConfigError(LlmcodeError):
    """Options or settings that cannot be used together."""


class SettingsError(ConfigError):
    """A setting has a value it cannot take (the command line: a usage error, exit 2)."""
