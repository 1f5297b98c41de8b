"""`llmcode code`: closed coding of items against a taxonomy, with progress and a summary.

The command starts or resumes a run (or only estimates it, or writes it as batch requests) and
codes it under a progress bar; what it prints before and after is in `code_summary`, the
options for examples, prompts and the second look are checked in `code_guidance`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcode.cli.app import app, print_next
from llmcode.cli.choices import Vectors
from llmcode.cli.code_guidance import guidance_settings, similarity_settings
from llmcode.cli.code_summary import announce_run, print_estimate, print_summary, resume_command
from llmcode.cli.options import (
    BackendName,
    BaseUrl,
    Concurrency,
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
    Limit,
    MaxReasks,
    MaxTokens,
    ModelPath,
    Models,
    NewRunId,
    NoCache,
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
    new_run_config,
    verify_setting,
)
from llmcode.cli.progress import CodingProgress, expectation
from llmcode.cli.running import Interrupted, run_async
from llmcode.cli.terminal import Console

if TYPE_CHECKING:
    from llmcode.coding.closed import Coder
    from llmcode.coding.costs import Budget
    from llmcode.llm.backends import Backend
    from llmcode.store.models import RunConfig, RunManifest
    from llmcode.store.runs import Run

console = Console(highlight=False)


@app.command("code")
def code(
    taxonomy: TaxonomyFile = None,
    items: ItemsFile = None,
    run_id: NewRunId = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue this run.")] = None,
    limit: Limit = None,
    backend: BackendName = None,
    model: Models = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    id_column: IdColumn = "item_id",
    text_column: TextColumns = None,
    sheet: Sheet = None,
    level: Level = "top",
    concurrency: Concurrency = 8,
    temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 512,
    seed: Seed = 0,
    max_reasks: MaxReasks = 2,
    samples: Samples = 1,
    evidence: Evidence = None,
    items_per_request: Annotated[
        int,
        typer.Option(
            "--items-per-request",
            min=1,
            help="Items per request: the codebook is sent once for K items.",
        ),
    ] = 1,
    rpm: Rpm = None,
    tpm: Tpm = None,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Write the requests as OpenAI Batch JSONL (runs/<id>/batch/) instead of asking online; then `llmcode batch submit|status|collect`.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count tokens and estimate the cost; send nothing.")
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost", help="Stop (resumably) before spending more than this many USD."
        ),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            envvar="LLMCODE_PRICES",
            help="YAML price table: model: {input: USD/1M, output: USD/1M}.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.1, help="Seconds before a request is abandoned and retried."
        ),
    ] = 120.0,
    no_cache: NoCache = False,
    only: Annotated[
        Path | None,
        typer.Option(
            "--only",
            help="Code only the items whose ids are in this table (item_id column), e.g. a "
            "gold sample from `llmcode sample`.",
        ),
    ] = None,
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
    force: Force = False,
    runs_dir: RunsDir = None,
) -> None:
    """Code items against a taxonomy; every code has a justification and verified evidence."""
    from llmcode.coding.closed import make_coder, prompts_for
    from llmcode.coding.costs import budget_for
    from llmcode.coding.lifecycle import finish_run, pending_items, resume_run, start_run
    from llmcode.items import only_items
    from llmcode.llm.backends import choose_backend_name, make_backend
    from llmcode.llm.cache import ResponseCache
    from llmcode.store.runs import RunStore

    verify_as = verify_setting(verify, verify_mode)
    store = RunStore(runs_dir)
    if resume:
        asked = {"model": model[0] if model else None, "base_url": base_url}
        run = resume_run(
            store, resume, "closed", {**asked, "taxonomy": taxonomy, "items": items}, force
        )
        config = run.config or run.manifest().config
        tax = run.taxonomy()
        todo = pending_items(run)
        for change in run.notes.get("resumed", [])[-1:]:
            console.print("[yellow]--force[/]: " + "; ".join(change["forced"]), markup=True)
        console.print(f"resuming [bold]{run.run_id}[/]: {len(todo)} item(s) left")
    else:
        tax, item_set, config = new_run_config(
            taxonomy,
            items,
            backend=choose_backend_name(backend, base_url),
            model=model,
            level=level,
            evidence=evidence,
            samples=samples,
            id_column=id_column,
            text_column=text_column,
            sheet=sheet,
            base_url=base_url,
            model_path=str(model_path) if model_path else None,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            concurrency=concurrency,
            max_reasks=max_reasks,
            limit=limit,
            items_per_request=items_per_request,
            rpm=rpm,
            tpm=tpm,
            max_cost=max_cost,
            timeout=timeout,
            only=str(only) if only else None,
            **guidance_settings(
                examples, examples_items, examples_coder, shots, splits, prompts_dir, verify_as
            ),
            **similarity_settings(examples_similarity, embedding_model),
        )
        if only is not None:
            item_set = only_items(item_set, only, id_column)
            console.print(f"--only {only}: {len(item_set.items)} item(s) to code")
        if item_set.sheet_note:
            console.print(item_set.sheet_note, markup=False)
        if dry_run:
            coder = make_coder(config, tax, _offline(config), item_set.items)
            print_estimate(
                console,
                config,
                tax,
                item_set.items[:limit] if limit else item_set.items,
                prices,
                coder,
            )
            return
        if batch:
            from llmcode.coding.batch import prepare_batch

            run, requests = prepare_batch(
                store,
                config,
                item_set,
                tax,
                Path(config.taxonomy_path).read_text(encoding="utf-8"),
                prompts_for(config),
                run_id,
            )
            n = len(requests.read_text(encoding="utf-8").splitlines())
            console.print(f"run [bold]{run.run_id}[/]: wrote {n} batch request(s) to {requests}")
            print_next(
                console,
                f"llmcode batch submit {run.run_id}",
                f"llmcode batch collect {run.run_id} --file OUT.jsonl   # after vLLM's "
                "run_batch on the file",
            )
            return
    llm, *more = [
        make_backend(
            config.backend,
            model=name,
            base_url=config.base_url,
            model_path=config.model_path,
            rpm=config.rpm,
            tpm=config.tpm,
            timeout=config.timeout,
            parallel=config.concurrency,
        )
        for name in (config.model, *config.more_models)
    ]
    if resume:  # a budget caps this invocation's spending
        config = config.model_copy(update={"max_cost": max_cost})
    cache = None if no_cache else ResponseCache(store.root / ".cache")
    started = run.manifest().extra.get("examples", {}) if resume else {}
    coder = make_coder(
        config,
        tax,
        llm,
        run.items() if resume else item_set.items,
        cache=cache,
        more_backends=more,
        examples_sha256=started.get("sha256"),
    )
    budget = budget_for(config, tax, todo if resume else item_set.items, llm.model, prices, coder)
    if not resume:
        extra = {"examples": coder.examples.describe()} if coder.examples is not None else None
        run = start_run(
            store,
            config,
            item_set,
            tax,
            Path(config.taxonomy_path).read_text(encoding="utf-8"),
            coder.prompts,
            llm,
            run_id,
            extra=extra,
        )
        todo = run.items()
    try:  # a signal from here on leaves the run interrupted, with the command that resumes it
        if not resume:
            announce_run(console, run, todo, item_set, tax, llm, coder, config)
        manifest = _code_with_progress(todo, coder, run, budget, prices)
    except Interrupted as stop:
        if run.manifest().status == "running":  # stopped before the coding loop began
            finish_run(run, "interrupted", llm, prices)
        console.print(
            f"[yellow]interrupted[/] ({stop}): every finished coding is kept; "
            f"resume with\n  {resume_command(run, runs_dir)}",
            soft_wrap=True,
        )
        raise typer.Exit(stop.exit_code) from None
    if manifest.status == "interrupted" and config.max_cost is not None:
        console.print(
            f"[yellow]budget reached[/]: stopped before spending more than ${config.max_cost}"
        )
    print_summary(console, run, manifest, resume_command(run, runs_dir))
    if manifest.status == "failed":
        raise typer.Exit(1)


def _offline(config: RunConfig) -> Backend:
    """A stand-in backend for building a coder that never asks (dry runs)."""
    from llmcode.llm.backends.fake import FakeBackend

    return FakeBackend(model=config.model or config.backend)


def _code_with_progress(
    todo: list, coder: Coder, run: Run, budget: Budget | None, prices: Path | None
) -> RunManifest:
    from llmcode.coding.lifecycle import code_run

    expected = expectation(coder.backend.describe(), len(todo))
    if expected:
        console.print(f"[dim]{expected}[/]")
    limiter = getattr(coder.backend, "limiter", None)
    with CodingProgress(console, len(todo), limiter) as progress:
        on_record = progress.on_record
        work = code_run(run, coder, todo, on_record, budget, prices)
        return run_async(work, [coder.backend, *coder.more_backends])
