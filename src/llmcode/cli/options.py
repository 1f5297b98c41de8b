"""Option types shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RunsDir = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir", envvar="LLMCODE_RUNS_DIR", help="Where runs live [default: ./runs]."
    ),
]
RunRef = Annotated[str, typer.Argument(help="Run id (in the runs dir) or a run directory.")]
