"""The start-up guard: a run whose first requests all fail for one fixable reason stops.

An endpoint that is down, a wrong URL, a bad key (401/403), an unknown model (404) or an embedded
model that cannot be loaded would otherwise turn every item into an ``error`` record of a run
that looks complete. ``StartupGuard`` watches the first records: when the first ``patience`` are
all errors of such a cause, the run stops starting requests and ``BackendUnavailable`` says the
cause and the fix in one line. Any other record disarms it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmcode.errors import BackendError
from llmcode.store.models import CodingRecord

FATAL_CAUSES = (
    (
        re.compile(r"HTTP 40[13]\b"),
        "the endpoint refused the API key",
        "set OPENAI_API_KEY to a valid key for this endpoint",
    ),
    (
        re.compile(r"HTTP 404\b"),
        "the endpoint does not know this model or path",
        "check --model (and that --base-url ends in /v1)",
    ),
    (
        re.compile(r"APIConnectionError|Connection error|ConnectError|connection refused", re.I),
        "cannot connect to the endpoint",
        "check that the server is running and --base-url is right",
    ),
    (
        re.compile(r"cannot load model|not a (valid )?GGUF|failed to load", re.I),
        "the embedded model cannot be loaded",
        "check --model-path (a GGUF file)",
    ),
)


class BackendUnavailable(BackendError):
    """The first requests of a run all failed for a reason that retrying cannot fix."""


@dataclass
class StartupGuard:
    """Stops a run whose first ``patience`` records are all errors of one fatal cause.

    Any record that is not such an error (a coding, or an error of another kind) disarms it:
    later failures are recorded per item as usual.
    """

    patience: int = 3
    seen: int = 0
    armed: bool = True
    error: BackendUnavailable | None = None

    def observe(self, record: CodingRecord) -> None:
        if not self.armed:
            return
        cause = fatal_cause(record)
        if cause is None:
            self.armed = False
            return
        self.seen += 1
        if self.seen >= self.patience:
            self.armed = False
            what, fix = cause
            detail = (record.error or "")[:200]
            self.error = BackendUnavailable(
                f"{what}: {fix} (stopped after {self.seen} failed requests: {detail})",
                hint="the run is interrupted with nothing lost; resume it once that is fixed",
            )


def fatal_cause(record: CodingRecord) -> tuple[str, str] | None:
    """What is wrong and how to fix it, when an error record shows a cause retrying cannot fix."""
    if record.status != "error" or not record.error:
        return None
    for pattern, what, fix in FATAL_CAUSES:
        if pattern.search(record.error):
            return what, fix
    return None
