"""`llmcode adjudicate`: resolve the disagreements between coders, by hand or by a model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcode.cli.app import app, print_next
from llmcode.cli.choices import TieBreaker
from llmcode.cli.options import RunRef, RunsDir
from llmcode.cli.terminal import Console
from llmcode.errors import ConfigError

if TYPE_CHECKING:
    from llmcode.store.final import Disagreement
    from llmcode.store.runs import Run, RunStore

console = Console(highlight=False)


@app.command("adjudicate")
def adjudicate(
    run_ref: RunRef,
    human: Annotated[
        Path,
        typer.Option("--human", help="Human codes (item_id, coder, code[, memo]) to adjudicate."),
    ],
    coders: Annotated[
        list[str] | None,
        typer.Option("--coder", help="A coder of --human to adjudicate; repeat [default: all]."),
    ] = None,
    adjudicator: Annotated[
        str | None,
        typer.Option(
            "--adjudicator",
            envvar="LLMCODE_REVIEWER",
            help="Your name in decisions.jsonl [default: your login name].",
        ),
    ] = None,
    with_model: Annotated[
        bool, typer.Option("--with-model", help="The run's model is one more coder.")
    ] = False,
    blind_coders: Annotated[
        bool,
        typer.Option("--blind-coders", help="Show the coders as coder 1, 2, ... (not by name)."),
    ] = False,
    tie_breaker: Annotated[
        TieBreaker | None,
        typer.Option(
            "--tie-breaker",
            help="Resolve every open disagreement without the TUI: the run's model sees the "
            "item, the codebook and each coder's codes and memo.",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="With --tie-breaker: ask again, skip the cache.")
    ] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Adjudicate where coders disagree (human-human first): take a coder's code (1-9),
    change (c), memo (m); or let the model break the ties (--tie-breaker model)."""
    from llmcode.codes import load_codes
    from llmcode.store.final import coder_codes, disagreements, save_coders, unresolved
    from llmcode.store.runs import RunStore

    store = RunStore(runs_dir)
    run = store.open(run_ref)
    model = run.manifest().coder
    frame = coder_codes(run, load_codes(human), coders, with_model=with_model)
    save_coders(run, frame)
    ties = disagreements(run, frame, model if with_model else None)
    still_open = unresolved(run, ties)
    named = ", ".join(dict.fromkeys(frame["coder"]))
    console.print(
        f"{len(ties)} disagreement(s) among {named} "
        f"({sum(t.humans_disagree for t in ties)} between human coders); "
        f"{len(still_open)} not adjudicated yet"
    )
    if tie_breaker is not None:
        _tie_break(store, run, still_open, blind_coders=blind_coders, no_cache=no_cache)
        return
    if not still_open:
        print_next(console, f"llmcode export {run.run_id} --final -o final.csv")
        return
    from llmcode.cli.review import default_reviewer
    from llmcode.review.adjudication import AdjudicationSession

    session = AdjudicationSession(
        run, adjudicator or default_reviewer(), ties, blind_coders=blind_coders
    )
    from llmcode.review.adjudication_app import AdjudicationApp  # textual loads only now

    AdjudicationApp(session).run()
    done = len(ties) - len(unresolved(run, ties))
    console.print(
        f"{session.adjudicator}: {done}/{len(ties)} disagreement(s) resolved; "
        f"final table: llmcode export {run.run_id} --final -o final.csv"
    )


def _tie_break(
    store: RunStore, run: Run, ties: list[Disagreement], *, blind_coders: bool, no_cache: bool
) -> None:
    from llmcode.coding.job import backend_for, run_sync
    from llmcode.coding.tiebreak import TieBreaks, break_ties
    from llmcode.llm.cache import ResponseCache

    if not ties:
        console.print("nothing to resolve")
        print_next(console, f"llmcode export {run.run_id} --final -o final.csv")
        return
    backend = backend_for(run.manifest().config)
    cache = None if no_cache else ResponseCache(store.root / ".cache")

    async def work() -> TieBreaks:
        try:
            return await break_ties(run, backend, ties, blind_coders=blind_coders, cache=cache)
        finally:
            await backend.aclose()

    result = run_sync(work())
    usage = result.usage
    console.print(
        f"{backend.model}: resolved {len(result.decisions)} of {len(ties)} disagreement(s) "
        f"({usage.calls} call(s), {usage.cached_calls} cached, "
        f"{usage.prompt_tokens + usage.completion_tokens:,} tokens)"
    )
    for item_id, why in list(result.failed.items())[:10]:
        console.print(f"[yellow]left open[/] {item_id}: {why}", markup=True)
    if result.failed:
        raise ConfigError(
            f"{len(result.failed)} disagreement(s) left open: the model gave no usable answer",
            hint="run the command again, or resolve them by hand (without `tie_breaker`)",
        )
    print_next(console, f"llmcode export {run.run_id} --final -o final.csv")
