"""`llmcode review`: open the review TUI on a run."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llmcode.cli.app import app
from llmcode.cli.options import RunRef, RunsDir
from llmcode.review.queues import QUEUES, load_human_codes
from llmcode.review.session import ReviewSession
from llmcode.store.runs import DECISIONS, RunStore

console = Console(highlight=False)


def default_reviewer() -> str:
    """The login name, or 'reviewer' where there is none (containers)."""
    try:
        return getpass.getuser() or "reviewer"
    except (KeyError, OSError):
        return "reviewer"


@app.command("review")
def review(
    run_ref: RunRef,
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--reviewer",
            envvar="LLMCODE_REVIEWER",
            help="Your name in decisions.jsonl [default: your login name].",
        ),
    ] = None,
    queue: Annotated[
        str, typer.Option("--queue", help=f"What to review first: {'|'.join(QUEUES)}.")
    ] = "all",
    against: Annotated[
        Path | None,
        typer.Option(
            "--against", help="Human codes (item_id, coder, code) to show beside the model's."
        ),
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Review a run's codes from the keyboard (a accept, r reject, c change, u undo, ? help)."""
    run = RunStore(runs_dir).open(run_ref)
    human = load_human_codes(against) if against is not None else None
    session = ReviewSession(run, reviewer or default_reviewer(), queue=queue, human=human)
    from llmcode.review.app import ReviewApp  # textual loads only when the TUI opens

    ReviewApp(session).run()
    p = session.progress()
    console.print(
        f"{session.reviewer}: {p.reviewed}/{p.total} reviewed in queue {session.queue_name} "
        f"(accepted {p.accepted}, changed {p.changed}, rejected {p.rejected}); "
        f"decisions in {run.path / DECISIONS}"
    )
