"""`llmcode review`: open the review TUI on a run."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcode.cli.app import app, print_next
from llmcode.cli.choices import ReviewQueue
from llmcode.cli.options import RunRef, RunsDir
from llmcode.cli.terminal import Console
from llmcode.errors import ConfigError

if TYPE_CHECKING:
    from llmcode.store.runs import Run

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
        ReviewQueue, typer.Option("--queue", help="What to review first.")
    ] = ReviewQueue.all,
    human_file: Annotated[
        Path | None,
        typer.Option(
            "--human", help="Human codes (item_id, coder, code) to show beside the model's."
        ),
    ] = None,
    against_file: Annotated[Path | None, typer.Option("--against", hidden=True)] = None,
    auto_accept_above: Annotated[
        float | None,
        typer.Option(
            "--auto-accept-above",
            min=0.0,
            max=1.0,
            help="Record automatic accepts for verified, undisputed items whose every code has "
            "confidence at or above T (with the error estimate from --human), then stop.",
        ),
    ] = None,
    coder: Annotated[
        str | None,
        typer.Option(
            "--coder", help="With --auto-accept-above: whose codes in --human are the gold."
        ),
    ] = None,
    max_error: Annotated[
        float,
        typer.Option(
            "--max-error",
            min=0.0,
            max=1.0,
            help="With --auto-accept-above: refuse when the 95% upper bound of the gold error "
            "rate above T exceeds this.",
        ),
    ] = 0.10,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --auto-accept-above: accept even without gold or above --max-error.",
        ),
    ] = False,
    undo_automatic: Annotated[
        bool,
        typer.Option(
            "--undo-automatic",
            help="Take back the automatic accepts (of --reviewer, or everyone's); the history "
            "keeps them.",
        ),
    ] = False,
    blind: Annotated[
        bool,
        typer.Option(
            "--blind",
            help="Code from scratch (gold coding): no model code, justification, evidence or "
            "confidence on screen; decisions are marked blind.",
        ),
    ] = False,
    only: Annotated[
        Path | None,
        typer.Option(
            "--only", help="Review only the items whose ids are in this table (e.g. gold.csv)."
        ),
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Review a run's codes from the keyboard (a accept, r reject, c change, u undo, ? help)."""
    from llmcode.items import item_ids
    from llmcode.review.queues import load_human_codes
    from llmcode.review.session import ReviewSession
    from llmcode.store.runs import DECISIONS, RunStore

    run = RunStore(runs_dir).open(run_ref)
    against = human_file or against_file
    if run.manifest().config.inputs.unit == "segment":
        refused = [
            flag
            for flag, given in (
                ("--only", only is not None),
                ("--auto-accept-above", auto_accept_above is not None),
                ("--undo-automatic", undo_automatic),
            )
            if given
        ]
        if refused:
            raise ConfigError(f"{', '.join(refused)} does not apply to a run coded in passages")
        _review_passages(run, reviewer or default_reviewer(), queue.value, against, blind)
        return
    if blind and auto_accept_above is not None:
        raise ConfigError("--blind codes by hand: it cannot be combined with --auto-accept-above")
    if undo_automatic:
        if auto_accept_above is not None:
            raise ConfigError("--undo-automatic cannot be combined with --auto-accept-above")
        _undo_automatic(run, reviewer)
        return
    if auto_accept_above is not None:
        _auto_accept(
            run,
            reviewer or default_reviewer(),
            auto_accept_above,
            against,
            coder,
            max_error=max_error,
            force=force,
        )
        return
    human = load_human_codes(against) if against is not None else None
    session = ReviewSession(
        run,
        reviewer or default_reviewer(),
        queue=queue.value,
        human=human,
        blind=blind,
        only=item_ids(only) if only is not None else None,
    )
    from llmcode.review.app import ReviewApp  # textual loads only when the TUI opens

    ReviewApp(session).run()
    p = session.progress()
    if blind:
        console.print(
            f"{session.reviewer}: {p.reviewed}/{p.total} coded blind "
            f"({p.rejected} with no code applying); decisions in {run.path / DECISIONS}; "
            f"export: llmcode export {run.run_id} --reviewed --reviewer {session.reviewer}"
        )
        return
    console.print(
        f"{session.reviewer}: {p.reviewed}/{p.total} reviewed in queue {session.queue_name} "
        f"(accepted {p.accepted}, changed {p.changed}, rejected {p.rejected}); "
        f"decisions in {run.path / DECISIONS}"
    )


def _review_passages(
    run: Run, reviewer: str, queue: str, against: Path | None, blind: bool
) -> None:
    """The passage review of a segment run (`llmcode.review.passage_app`)."""
    from llmcode.review.passage_queues import load_human_passages
    from llmcode.review.passage_session import PassageSession
    from llmcode.store.runs import DECISIONS

    texts = {item.item_id: item.text for item in run.items()}
    human = load_human_passages(against, texts) if against is not None else None
    session = PassageSession(run, reviewer, queue=queue, human=human, blind=blind)
    from llmcode.review.passage_app import PassageReviewApp  # textual loads only when it opens

    PassageReviewApp(session).run()
    p = session.progress()
    console.print(
        f"{session.reviewer}: {p.reviewed}/{p.total} passage(s) decided in queue "
        f"{session.queue_name} (accepted {p.accepted}, changed {p.changed}, rejected "
        f"{p.rejected}, added {p.added}); decisions in {run.path / DECISIONS}; export: "
        f"llmcode export {run.run_id} --reviewed --reviewer {session.reviewer}"
    )


def _undo_automatic(run: Run, reviewer: str | None) -> None:
    from llmcode.review.triage import undo_automatic
    from llmcode.store.runs import DECISIONS

    undone = undo_automatic(run, reviewer)
    who = reviewer or "every reviewer"
    console.print(
        f"{who}: took back {len(undone)} automatic accept(s) with undo lines "
        f"(the accepts stay in {run.path / DECISIONS})"
    )
    if undone:
        print_next(console, f"llmcode review {run.run_id} --queue uncertain")


def _auto_accept(
    run: Run,
    reviewer: str,
    threshold: float,
    against: Path | None,
    coder: str | None,
    *,
    max_error: float,
    force: bool,
) -> None:
    from llmcode.review.triage import auto_accept

    result = auto_accept(
        run, reviewer, threshold, against, coder=coder, max_error=max_error, force=force
    )
    row = result.estimate
    console.print(
        f"{reviewer}: accepted {len(result.decisions)} item(s) automatically at confidence "
        f">= {threshold:g} ({result.source}); {row.n_above} of {row.n_items} coded item(s) are "
        f"above it ({row.share_above:.0%}), {result.already_decided} already decided"
    )
    if row.error_rate is not None and row.interval is not None:
        low, high = row.interval
        console.print(
            f"estimated error rate above {threshold:g}: {row.error_rate:.1%} "
            f"({row.errors} of {row.n_gold_above} gold item(s); 95% CI {low:.1%}–{high:.1%})"
        )
    elif against is None:
        console.print("[yellow]no error estimate[/]: pass --human HUMAN_CODES for one")
    else:
        console.print("[yellow]no error estimate[/]: no gold item is above the threshold")
    print_next(console, f"llmcode review {run.run_id} --queue uncertain")
