"""`llmcode code`: closed coding of items against a taxonomy, with progress and a summary.

The command maps its flags onto run settings (`cli.run_settings`: the command line wins over
``--config FILE``, which wins over ``--like RUN``) and hands them to the library's one entry
point (`llmcode.coding.job`), which starts or resumes the run, estimates it, writes it as batch
requests or codes it. What is printed around the coding is in `code_summary`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcode.cli.app import app, err_console, print_next
from llmcode.cli.choices import CodeLevel, Hierarchy, Unit, Vectors
from llmcode.cli.code_summary import announce_run, print_estimate, print_summary, resume_command
from llmcode.cli.flags import as_flags
from llmcode.cli.options import (
    BackendName,
    BaseUrl,
    CodeHierarchy,
    CodeUnit,
    Concurrency,
    ConfigFile,
    ContextTokens,
    EmbeddingModel,
    Evidence,
    ExamplesCoder,
    ExamplesCodes,
    ExamplesItems,
    ExamplesSimilarity,
    Force,
    IdColumn,
    ItemsFile,
    Level,
    Like,
    Limit,
    MaxReasks,
    MaxTokens,
    ModelPath,
    Models,
    NewRunId,
    NoCache,
    Only,
    PromptsDir,
    Rpm,
    RunsDir,
    Samples,
    Seed,
    Sheet,
    Shots,
    Splits,
    TaxonomyFile,
    Temperature,
    TextColumns,
    Tpm,
    Verify,
    VerifyMode,
)
from llmcode.cli.progress import CodingProgress, StepProgress, expectation
from llmcode.cli.run_settings import code_settings
from llmcode.cli.running import Interrupted, run_async
from llmcode.cli.sections import SectionedCommand
from llmcode.cli.terminal import Console

if TYPE_CHECKING:
    from llmcode.coding.job import CodingJob
    from llmcode.store.models import RunManifest

console = Console(highlight=False)
OUTPUT = "Output"
LIMITS = "Limits and cost"


@app.command("code", cls=SectionedCommand)
def code(
    ctx: typer.Context,
    taxonomy: TaxonomyFile = None,
    items: ItemsFile = None,
    id_column: IdColumn = "item_id",
    text_column: TextColumns = None,
    sheet: Sheet = None,
    level: Level = CodeLevel.top,
    limit: Limit = None,
    only: Only = None,
    unit: CodeUnit = Unit.item,
    hierarchy: CodeHierarchy = Hierarchy.flat,
    config_file: ConfigFile = None,
    like: Like = None,
    backend: BackendName = None,
    model: Models = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            help="Seconds before a request is abandoned and retried.",
            rich_help_panel="Model and endpoint",
        ),
    ] = 120.0,
    context_tokens: ContextTokens = None,
    examples: ExamplesCodes = None,
    examples_items: ExamplesItems = None,
    examples_coder: ExamplesCoder = None,
    examples_similarity: ExamplesSimilarity = Vectors.tfidf,
    embedding_model: EmbeddingModel = None,
    shots: Shots = 4,
    splits: Splits = None,
    prompts_dir: PromptsDir = None,
    verify: Verify = False,
    verify_mode: VerifyMode = None,
    temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 512,
    seed: Seed = 0,
    samples: Samples = 1,
    evidence: Evidence = None,
    max_reasks: MaxReasks = 2,
    items_per_request: Annotated[
        int,
        typer.Option(
            "--items-per-request",
            min=1,
            help="Items per request: the codebook is sent once for K items.",
            rich_help_panel="Sampling",
        ),
    ] = 1,
    concurrency: Concurrency = 8,
    rpm: Rpm = None,
    tpm: Tpm = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Stop (resumably) before spending more than this many USD.",
            rich_help_panel=LIMITS,
        ),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            envvar="LLMCODE_PRICES",
            help="YAML price table: model: {input, output, cached_input: USD/1M, "
            "batch_discount: 0.5}, optionally under models: with date: and source:.",
            rich_help_panel=LIMITS,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Count tokens and estimate the cost; send nothing.",
            rich_help_panel=LIMITS,
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="With --dry-run: print the estimate as one JSON object.",
            rich_help_panel=LIMITS,
        ),
    ] = False,
    no_cache: NoCache = False,
    run_id: NewRunId = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue this run.", rich_help_panel=OUTPUT)
    ] = None,
    force: Force = False,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Write the requests as OpenAI Batch JSONL (runs/<id>/batch/) instead of asking "
            "online; then `llmcode batch submit|status|collect`.",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Code items against a taxonomy; every code has a justification and verified evidence."""
    from llmcode.coding.batch import batch_config
    from llmcode.coding.job import new_config, prepare
    from llmcode.store.runs import RunStore

    chosen = code_settings(ctx, config_file, like, runs_dir)
    store = RunStore(chosen.runs_dir)
    prices = prices or chosen.prices
    if resume:
        job = prepare(
            store=store,
            resume=resume,
            changes=chosen.settings,
            force=force,
            cache=not no_cache,
            prices=prices,
        )
        assert job.run is not None
        console.print(f"resuming [bold]{job.run.run_id}[/]: {len(job.todo)} item(s) left")
    else:
        config = new_config(**chosen.new_run())
        if batch:
            config = batch_config(config)
        job = prepare(
            config,
            store=store,
            run_id=run_id,
            offline=dry_run or batch,
            cache=not no_cache,
            prices=prices,
        )
    for note in job.notes:
        (err_console if as_json else console).print(as_flags(note), markup=False)
    if dry_run:
        if as_json:
            estimate = job.estimate()
            typer.echo(json.dumps(estimate.as_dict(), ensure_ascii=False, indent=2))
            return
        print_estimate(console, job)
        return
    if batch:
        _write_batch(job)
        return
    _code(job, runs_dir)


def _write_batch(job: CodingJob) -> None:
    run, requests = job.write_batch()
    n = len(requests.read_text(encoding="utf-8").splitlines())
    console.print(f"run [bold]{run.run_id}[/]: wrote {n} batch request(s) to {requests}")
    print_next(
        console,
        f"llmcode batch submit {run.run_id}",
        f"llmcode batch collect {run.run_id} --file OUT.jsonl   # after vLLM's run_batch on the file",
    )


def _code(job: CodingJob, runs_dir: Path | None) -> None:
    """Start (or continue) the run and code it under a progress bar; finish it however it ends."""
    from llmcode.coding.lifecycle import finish_run

    run = job.start()
    try:  # a signal from here on leaves the run interrupted, with the command that resumes it
        if not job.resumed:
            announce_run(console, job)
        with StepProgress(console, "choosing examples") as progress:
            job.select_examples(progress.update)
        manifest = _code_with_progress(job)
    except Interrupted as stop:
        if run.manifest().status == "running":  # stopped before the coding loop began
            finish_run(run, "interrupted", job.coder.backend, job.prices)
        console.print(
            f"[yellow]interrupted[/] ({stop}): every finished coding is kept; "
            f"resume with\n  {resume_command(run, runs_dir)}",
            soft_wrap=True,
        )
        raise typer.Exit(stop.exit_code) from None
    if manifest.status == "interrupted" and job.config.limits.max_cost is not None:
        console.print(
            f"[yellow]budget reached[/]: stopped before spending more than "
            f"${job.config.limits.max_cost}"
        )
    print_summary(console, run, manifest, resume_command(run, runs_dir))
    if manifest.status == "failed":
        raise typer.Exit(1)


def _code_with_progress(job: CodingJob) -> RunManifest:
    expected = expectation(job.coder.backend.describe(), len(job.todo))
    if expected:
        console.print(f"[dim]{expected}[/]")
    limiter = getattr(job.coder.backend, "limiter", None)
    with CodingProgress(console, len(job.todo), limiter) as progress:
        return run_async(job.code(progress.on_record), job.backends)
