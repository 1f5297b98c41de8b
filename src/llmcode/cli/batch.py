"""`llmcode batch prepare|submit|status|run|collect`: a run through the OpenAI Batch API, vLLM or
Ray Data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from llmcode.cli.app import batch_app, print_next
from llmcode.cli.choices import CodeLevel, Engine, EvidenceMode, Vectors
from llmcode.cli.options import (
    ConfigFile,
    EmbeddingModel,
    Evidence,
    ExamplesCoder,
    ExamplesCodes,
    ExamplesItems,
    ExamplesSimilarity,
    IdColumn,
    ItemsFile,
    Level,
    Like,
    Limit,
    MaxReasks,
    MaxTokens,
    Models,
    NewRunId,
    NoCache,
    Only,
    PromptsDir,
    RunRef,
    RunsDir,
    Samples,
    Seed,
    Sheet,
    Shots,
    Splits,
    TaxonomyFile,
    Temperature,
    TextColumns,
    non_empty,
)
from llmcode.cli.run_settings import code_settings
from llmcode.cli.sections import SectionedCommand
from llmcode.cli.terminal import Console

if TYPE_CHECKING:
    from llmcode.coding.batch import BatchState
    from llmcode.coding.batch_ingest import IngestReport
    from llmcode.store.runs import Run

console = Console(highlight=False)
SHOWN_FAILURES = 50
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="OPENAI_BASE_URL",
        help="OpenAI-compatible endpoint (default: the run's, else OpenAI).",
        callback=non_empty,
    ),
]


@batch_app.command("prepare", cls=SectionedCommand)
def prepare(
    ctx: typer.Context,
    taxonomy: TaxonomyFile = None,
    items: ItemsFile = None,
    id_column: IdColumn = "item_id",
    text_column: TextColumns = None,
    sheet: Sheet = None,
    level: Level = CodeLevel.top,
    limit: Limit = None,
    only: Only = None,
    config_file: ConfigFile = None,
    like: Like = None,
    model: Models = None,
    base_url: BaseUrl = None,
    examples: ExamplesCodes = None,
    examples_items: ExamplesItems = None,
    examples_coder: ExamplesCoder = None,
    examples_similarity: ExamplesSimilarity = Vectors.tfidf,
    embedding_model: EmbeddingModel = None,
    shots: Shots = 4,
    splits: Splits = None,
    prompts_dir: PromptsDir = None,
    temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 512,
    seed: Seed = 0,
    samples: Samples = 1,
    evidence: Evidence = EvidenceMode.free,
    max_reasks: MaxReasks = 2,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            help="Re-asks in flight when collecting.",
            rich_help_panel="Limits and cost",
        ),
    ] = 8,
    rpm: Annotated[
        float | None,
        typer.Option(
            "--rpm",
            help="Requests per minute for re-asks when collecting.",
            rich_help_panel="Limits and cost",
        ),
    ] = None,
    tpm: Annotated[
        float | None,
        typer.Option(
            "--tpm",
            help="Prompt tokens per minute for re-asks.",
            rich_help_panel="Limits and cost",
        ),
    ] = None,
    max_requests: Annotated[
        int | None,
        typer.Option(
            "--max-requests",
            min=1,
            help="Write at most N requests (the rest stays pending).",
            rich_help_panel="Output",
        ),
    ] = None,
    run_id: NewRunId = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume", help="A new batch for this run's pending items.", rich_help_panel="Output"
        ),
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Write a run's requests as OpenAI Batch JSONL (runs/RUN/batch/requests.jsonl).

    The same run as `llmcode code --batch` with the same settings.
    """
    from llmcode.coding.batch import batch_config, read_state
    from llmcode.coding.batchrun import prepare_batch, prepare_resumed_batch
    from llmcode.coding.job import new_config
    from llmcode.store.runs import RunStore

    chosen = code_settings(ctx, config_file, like, runs_dir)
    store = RunStore(chosen.runs_dir)
    if resume:
        run, path = prepare_resumed_batch(store, resume, max_requests)
    else:
        config = batch_config(new_config(**{**chosen.new_run(), "backend": "openai"}))
        run, path = prepare_batch(store, config, run_id, max_requests)
        for record in run.latest_codings().values():
            if record.status == "skipped":
                console.print(
                    f"[yellow]skipped[/] {escape(record.item_id)}: {escape(str(record.error))}"
                )
    state = read_state(run)
    lines = state.n_requests if state else 0
    console.print(f"run [bold]{run.run_id}[/]: {lines} request(s) in {path}", soft_wrap=True)
    print_next(console, f"llmcode batch submit {run.run_id}   # OpenAI Batch API")
    console.print(
        f"  or: python -m vllm.entrypoints.openai.run_batch -i {path} -o results.jsonl "
        f"--model {run.manifest().config.endpoint.model}",
        soft_wrap=True,
        markup=False,
    )
    console.print(f"      llmcode batch collect {run.run_id} --file results.jsonl", soft_wrap=True)


@batch_app.command("submit")
def submit_command(run_ref: RunRef, base_url: BaseUrl = None, runs_dir: RunsDir = None) -> None:
    """Upload the run's batch file and create the batch."""
    from llmcode.coding.batch import openai_client, submit
    from llmcode.store.runs import RunStore

    run = RunStore(runs_dir).open(run_ref)
    state = submit(run, openai_client(base_url or run.manifest().config.endpoint.base_url))
    _print_state(run, state)


@batch_app.command("status")
def status_command(run_ref: RunRef, base_url: BaseUrl = None, runs_dir: RunsDir = None) -> None:
    """Ask the provider how the run's batch is doing."""
    from llmcode.coding.batch import openai_client, status
    from llmcode.store.runs import RunStore

    run = RunStore(runs_dir).open(run_ref)
    state = status(run, openai_client(base_url or run.manifest().config.endpoint.base_url))
    _print_state(run, state)


@batch_app.command("run")
def run_command(
    run_ref: RunRef,
    engine: Annotated[
        Engine, typer.Option("--engine", help="What sends the requests: ray (Ray Data).")
    ] = Engine.ray,
    base_url: Annotated[
        list[str] | None,
        typer.Option(
            "--base-url",
            help="OpenAI-compatible endpoint, repeatable: requests go round robin "
            "(default: the run's, else OPENAI_BASE_URL).",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            envvar="RAY_ADDRESS",
            help="Ray cluster (ray://HOST:10001 or HOST:6379); default: a local Ray instance.",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Requests in flight per Ray task.")
    ] = 8,
    tasks: Annotated[
        int,
        typer.Option(
            "--tasks", min=1, help="Ray tasks sending at once (with --vllm-model: vLLM engines)."
        ),
    ] = 2,
    vllm_model: Annotated[
        str | None,
        typer.Option(
            "--vllm-model",
            help="Answer with vLLM engines of this model on the Ray cluster's GPUs (Ray Data's "
            "vLLM engine processor) instead of sending to endpoints.",
        ),
    ] = None,
    max_retries: Annotated[
        int,
        typer.Option(
            "--max-retries", min=0, help="Retries of a 429, 5xx, timeout or connection error."
        ),
    ] = 4,
    runs_dir: RunsDir = None,
) -> None:
    """Send the run's prepared requests through Ray Data; then `batch collect --file`."""
    from llmcode import environment
    from llmcode.coding.batch import REQUESTS, batch_dir
    from llmcode.coding.rayrun import OUTPUT, RaySettings, send_with_ray
    from llmcode.errors import RunStoreError
    from llmcode.store.runs import RunStore

    run = RunStore(runs_dir).open(run_ref)
    requests = batch_dir(run) / REQUESTS
    if not requests.is_file():
        raise RunStoreError(
            f"{run.run_id} has no prepared requests ({requests})",
            hint="llmcode batch prepare ... or llmcode code --batch first",
        )
    if vllm_model is not None:
        from llmcode.coding.rayvllm import VllmSettings, send_with_vllm

        vllm = VllmSettings(vllm_model, replicas=tasks, address=address)
        report = send_with_vllm(requests, batch_dir(run) / OUTPUT, vllm)
        console.print(
            f"run [bold]{run.run_id}[/]: {report.requests} request(s) through {engine.value} to "
            f"{tasks} vLLM engine(s) of {escape(vllm_model)} in {report.seconds:.1f} s",
            soft_wrap=True,
        )
        print_next(console, f"llmcode batch collect {run.run_id} --file {report.output}")
        return
    endpoints = list(base_url or [])
    if not endpoints:
        fallback = run.manifest().config.endpoint.base_url or environment.openai_base_url()
        endpoints = [fallback] if fallback else ["https://api.openai.com/v1"]
    settings = RaySettings(
        endpoints=endpoints,
        api_key=environment.openai_api_key() or "sk-none",
        concurrency=concurrency,
        tasks=tasks,
        max_retries=max_retries,
        address=address,
    )
    report = send_with_ray(requests, batch_dir(run) / OUTPUT, settings)
    statuses = ", ".join(f"{n} HTTP {s}" for s, n in sorted(report.statuses.items()))
    console.print(
        f"run [bold]{run.run_id}[/]: {report.requests} request(s) through {engine.value} to "
        f"{len(endpoints)} endpoint(s) in {report.seconds:.1f} s: {statuses or 'none'}; "
        f"{report.retries} retried, {len(report.failed)} failed",
        soft_wrap=True,
    )
    for custom_id in report.failed[:SHOWN_FAILURES]:
        console.print(f"  [red]failed[/] {escape(custom_id)}")
    print_next(console, f"llmcode batch collect {run.run_id} --file {report.output}")


@batch_app.command("collect")
def collect_command(
    run_ref: RunRef,
    file: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            help="Output JSONL made elsewhere (vLLM run_batch), repeatable; nothing is downloaded.",
        ),
    ] = None,
    file_short: Annotated[list[Path] | None, typer.Option("-f", hidden=True)] = None,
    no_reask: Annotated[
        bool,
        typer.Option(
            "--no-reask", help="Keep invalid or unverified answers as they are (no online calls)."
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Poll until the batch has finished.")
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.0, help="Seconds between polls with --wait.")
    ] = 30.0,
    no_cache: NoCache = False,
    base_url: BaseUrl = None,
    runs_dir: RunsDir = None,
) -> None:
    """Ingest the batch output into the run: verify, re-ask online, list failed lines."""
    from llmcode.coding.batch import OPEN_STATUSES, openai_client, status
    from llmcode.coding.batch_ingest import collect, ingest_output_file, reask_backends
    from llmcode.coding.closed import Coder
    from llmcode.coding.lifecycle import resume_run
    from llmcode.llm.cache import ResponseCache
    from llmcode.llm.prompts import load_prompts
    from llmcode.store.runs import RunStore

    file = [*(file or []), *(file_short or [])]
    store = RunStore(runs_dir)
    run = resume_run(store, run_ref, "closed")  # one collector at a time; snapshots checked
    config = run.manifest().config
    tax = run.taxonomy()
    endpoint = base_url or config.endpoint.base_url
    client = None
    if not file:
        client = openai_client(endpoint)
        state = status(run, client)
        while wait and state.status in OPEN_STATUSES:
            _print_state(run, state)
            time.sleep(poll)
            state = status(run, client)
    (backend, *more), online = reask_backends(config, endpoint, no_reask)
    if not online and not no_reask:
        console.print(
            "[yellow]no endpoint for re-asks[/] (set OPENAI_API_KEY or --base-url): "
            "answers that need one are recorded as errors"
        )
    cache = None if no_cache else ResponseCache(store.root / ".cache")
    coder = Coder(
        taxonomy=tax,
        backend=backend,
        prompts=load_prompts(),
        config=config,
        cache=cache,
        more_backends=more,
    )

    async def run_and_close() -> IngestReport:
        try:
            if client is None:
                return await ingest_output_file(run, coder, file or [], reask=not no_reask)
            return await collect(run, client, coder, reask=not no_reask)
        finally:
            for each in (backend, *more):
                await each.aclose()

    import asyncio

    report = asyncio.run(run_and_close())
    _print_report(run, report)


def _print_state(run: Run, state: BatchState) -> None:
    counts = state.request_counts
    console.print(
        f"batch [bold]{state.batch_id}[/] of {run.run_id}: {state.status} | "
        f"{counts.get('completed', 0)} completed, {counts.get('failed', 0)} failed "
        f"of {counts.get('total', 0) or state.n_requests}"
    )
    for error in state.errors:
        console.print(f"[red]{escape(error)}[/]", soft_wrap=True)
    if state.status == "completed":
        print_next(console, f"llmcode batch collect {run.run_id}")


def _print_report(run: Run, report: IngestReport) -> None:
    written = ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items())) or "none"
    console.print(
        f"collected {report.lines} line(s) into {run.run_id}: records {written}"
        f" | re-asked {report.reasked} | already collected {report.skipped}"
    )
    if report.failed:
        console.print(f"[red]{len(report.failed)} failed request(s)[/] (recorded as errors):")
        for failed in report.failed[:SHOWN_FAILURES]:
            line = f"  {failed.item_id} ({failed.custom_id}): {failed.error}"
            console.print(escape(line), soft_wrap=True)
        if len(report.failed) > SHOWN_FAILURES:
            console.print(f"  ... and {len(report.failed) - SHOWN_FAILURES} more (status error)")
    for problem in report.unreadable:
        console.print(f"[yellow]ignored[/] {escape(problem)}", soft_wrap=True)
    if report.missing:
        console.print(
            f"[yellow]{len(report.missing)} item(s) have no line in the output[/]: "
            + escape(", ".join(report.missing[:10]))
            + (" ..." if len(report.missing) > 10 else "")
        )
    manifest = run.manifest()
    if manifest.status == "complete":
        print_next(console, f"llmcode runs show {run.run_id}", f"llmcode export {run.run_id}")
    else:
        console.print(
            f"[yellow]items left[/]: llmcode code --resume {run.run_id} (online), "
            f"or llmcode batch prepare --resume {run.run_id} (a new batch)",
            soft_wrap=True,
        )
