"""`llmcode open-code | themes | recode`: codes from the data, themes from codes, re-coding."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from llmcode.cli.app import app, print_next
from llmcode.cli.choices import Vectors
from llmcode.cli.options import (
    BackendName,
    BaseUrl,
    Evidence,
    IdColumn,
    ItemsFile,
    Limit,
    MaxReasks,
    MaxTokens,
    Model,
    ModelPath,
    NewRunId,
    NoCache,
    RunRef,
    RunsDir,
    Seed,
    Sheet,
    Temperature,
    TextColumns,
    backend_from_options,
)
from llmcode.cli.running import Interrupted, run_async
from llmcode.cli.terminal import Console
from llmcode.errors import ConfigError

if TYPE_CHECKING:
    from llmcode.store.models import CodingRecord
    from llmcode.store.runs import Run

console = Console(highlight=False)


def _progress(label: str, total: int) -> tuple[Progress, TaskID]:
    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[flagged]} flagged"),
        TimeElapsedColumn(),
        console=console,
    )
    return progress, progress.add_task(label, total=total, flagged=0)


@app.command("open-code")
def open_code(
    items: ItemsFile = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option(
            "--taxonomy", "-t", help="Seed the code list with this taxonomy's categories."
        ),
    ] = None,
    run_id: NewRunId = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue this open-coding run.")
    ] = None,
    limit: Limit = None,
    max_codes: Annotated[
        int, typer.Option("--max-codes", min=1, max=10, help="Codes per item at most.")
    ] = 3,
    id_column: IdColumn = "item_id",
    text_column: TextColumns = None,
    sheet: Sheet = None,
    backend: BackendName = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 384,
    seed: Seed = 0,
    evidence: Evidence = None,
    max_reasks: MaxReasks = 2,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """Open coding: short codes per item with verified evidence, names kept consistent."""
    from llmcode.coding.openrun import code_open_run, prepare_open_coding
    from llmcode.llm.backends import choose_backend_name
    from llmcode.llm.cache import ResponseCache
    from llmcode.store.runs import RunStore

    if items is None and not resume:
        raise ConfigError("give --items (or --resume RUN_ID)")
    store = RunStore(runs_dir)
    prepared = prepare_open_coding(
        store,
        lambda config: backend_from_options(config, backend, model, base_url, model_path),
        items=items,
        resume=resume,
        taxonomy=taxonomy,
        run_id=run_id,
        max_codes=max_codes,
        cache=None if no_cache else ResponseCache(store.root / ".cache"),
        id_column=id_column,
        text_columns=text_column,
        sheet=sheet,
        backend=choose_backend_name(backend, base_url),
        model=model,
        base_url=base_url,
        model_path=str(model_path) if model_path else None,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        max_reasks=max_reasks,
        limit=limit,
        evidence=evidence,
    )
    run, llm, seed_tax = prepared.run, prepared.backend, prepared.seed
    if prepared.resumed:
        console.print(f"resuming [bold]{run.run_id}[/]: {len(prepared.todo)} item(s) left")
    else:
        if prepared.sheet_note:
            console.print(prepared.sheet_note, markup=False)
        console.print(
            f"open coding run [bold]{run.run_id}[/]: {len(prepared.todo)} item(s), "
            f"{llm.describe()['backend']} model {llm.model}"
            + (f", seeded with {seed_tax.name} {seed_tax.version}" if seed_tax else "")
        )
    progress, task = _progress("open coding", len(prepared.todo))
    flagged = 0

    def on_record(record: CodingRecord) -> None:
        nonlocal flagged
        flagged += record.status != "ok"
        progress.update(task, advance=1, flagged=flagged)

    try:
        with progress:
            manifest = run_async(code_open_run(prepared, on_record), [llm])
    except Interrupted as stopped:
        where = f" --runs-dir {runs_dir}" if runs_dir is not None else ""
        console.print(
            f"[yellow]interrupted[/] ({stopped}): every finished coding is kept; resume with\n"
            f"  llmcode open-code --resume {run.run_id}{where}",
            soft_wrap=True,
        )
        raise typer.Exit(stopped.exit_code) from None
    _print_open_summary(run)
    console.print("status: " + ", ".join(f"{k} {v}" for k, v in manifest.counts.items() if v))
    print_next(console, f"llmcode themes {run.run_id} -o taxonomy/draft.yaml")


def _print_open_summary(run: Run) -> None:
    from llmcode.coding.themes import summarize_open_codes

    codes = summarize_open_codes(run)
    table = Table(title=f"{len(codes)} open codes in {run.run_id}", title_justify="left")
    table.add_column("code")
    table.add_column("name")
    table.add_column("items", justify="right")
    for code in codes[:25]:
        table.add_row(code.code, code.name, str(code.n_items))
    console.print(table)


@app.command("themes")
def themes(
    run_ref: RunRef,
    output: Annotated[Path, typer.Option("--output", "-o", help="Draft taxonomy YAML to write.")],
    n_themes: Annotated[
        int | None,
        typer.Option(
            "--n-themes", min=1, help="Number of groups [default: about sqrt(codes), 2-12]."
        ),
    ] = None,
    embedder: Annotated[
        Vectors,
        typer.Option(
            "--embedder",
            help="How code texts become vectors: tfidf, gguf (a local GGUF model through "
            "llama.cpp; 'embedding' is its earlier name) or sentence-transformers (a model "
            "already on disk), as --examples-similarity in code.",
        ),
    ] = Vectors.tfidf,
    embedding_model: Annotated[
        str | None,
        typer.Option(
            "--embedding-model",
            help="The model of those vectors: a GGUF file for gguf [default: the bundled "
            "SmolLM2], a sentence-transformers name or path for sentence-transformers.",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Taxonomy name [default: draft-RUN_ID].")
    ] = None,
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Mark the draft multi-label.")
    ] = False,
    backend: BackendName = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    max_reasks: MaxReasks = 2,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """Group a run's open codes into candidate categories and write a draft taxonomy."""
    from llmcode.coding.themes import build_themes, draft_taxonomy
    from llmcode.llm.cache import ResponseCache
    from llmcode.store.runs import RunStore

    store = RunStore(runs_dir)
    run = store.open(run_ref)
    llm = backend_from_options(run.manifest().config, backend, model, base_url, model_path)
    cache = None if no_cache else ResponseCache(store.root / ".cache")
    found = run_async(
        build_themes(
            run,
            llm,
            n_themes,
            embedder.value,
            embedding_model,
            cache,
            max_reasks=max_reasks,
        ),
        [llm],
    )
    taxonomy, text = draft_taxonomy(found, run, llm, name, embedder.value, multi_label)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    table = Table(title=f"{len(found)} themes from {run.run_id}", title_justify="left")
    for column in ("id", "name", "open codes", "items", "check"):
        table.add_column(column)
    for theme in found:
        items = len({i for c in theme.codes for i in c.item_ids})
        codes = ", ".join(c.name for c in theme.codes[:4]) + (" …" if len(theme.codes) > 4 else "")
        table.add_row(
            theme.category.id, theme.category.name, codes, str(items), "; ".join(theme.flags) or "-"
        )
    console.print(table)
    console.print(f"[green]wrote[/] {output} ({taxonomy.name} {taxonomy.version})")
    print_next(console, f"llmcode taxonomy check {output}")


@app.command("recode")
def recode(
    run_ref: RunRef,
    taxonomy: Annotated[Path, typer.Option("--taxonomy", "-t", help="The new taxonomy version.")],
    run_id: NewRunId = None,
    low_confidence: Annotated[
        float,
        typer.Option(
            "--low-confidence",
            min=0.0,
            max=1.0,
            help="Re-code items below this confidence when categories are added or changed.",
        ),
    ] = 0.5,
    neighbours: Annotated[
        int,
        typer.Option(
            "--neighbours",
            min=0,
            help="Kept categories most similar to an added one whose items are re-coded.",
        ),
    ] = 1,
    neighbour_similarity: Annotated[
        float,
        typer.Option(
            "--neighbour-similarity",
            min=0.0,
            max=1.0,
            help="TF-IDF similarity that also makes a category a near neighbour of an added one.",
        ),
    ] = 0.25,
    everything: Annotated[bool, typer.Option("--all", help="Re-code every item.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan, code nothing.")
    ] = False,
    backend: BackendName = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """Re-code a run after a taxonomy change: only items the change can affect; reuse the rest."""
    from llmcode.coding.recode import plan_recode, recode_setup, run_recode
    from llmcode.llm.cache import ResponseCache
    from llmcode.llm.prompts import load_prompts
    from llmcode.store.runs import RunStore
    from llmcode.taxonomy.model import load_taxonomy

    store = RunStore(runs_dir)
    previous = store.open(run_ref)
    new_tax = load_taxonomy(taxonomy)
    plan = plan_recode(
        previous, new_tax, low_confidence, neighbour_similarity, everything, neighbours
    )
    total = len(plan.recode) + len(plan.reuse)
    reasons = Counter(r.split(":", 1)[0] for r in plan.recode.values())
    console.print(
        f"plan: re-code [bold]{len(plan.recode)}[/] of {total} item(s), reuse {len(plan.reuse)}"
        + (" (" + ", ".join(f"{k}: {v}" for k, v in reasons.most_common()) + ")" if reasons else "")
    )
    if dry_run:
        for item_id, reason in plan.recode.items():
            console.print(f"  {item_id}: {reason}")
        return
    config, llm = recode_setup(
        previous,
        taxonomy,
        backend.value if backend else None,
        model,
        base_url,
        str(model_path) if model_path else None,
    )
    cache = None if no_cache else ResponseCache(store.root / ".cache")
    progress, task = _progress("re-coding", len(plan.recode))
    with progress:
        run, changes = run_async(
            run_recode(
                previous,
                plan,
                new_tax,
                taxonomy.read_text(encoding="utf-8"),
                config,
                store,
                llm,
                load_prompts(),
                cache,
                run_id,
                lambda r: progress.update(task, advance=1),
            ),
            [llm],
        )  # type: ignore[arg-type]
    table = Table(title=f"{len(changes)} item(s) changed code", title_justify="left")
    for column in ("item_id", "before", "after", "why re-coded"):
        table.add_column(column)
    for change in changes:
        table.add_row(
            change.item_id,
            ", ".join(change.old) or "-",
            ", ".join(change.new) or "-",
            plan.recode[change.item_id],
        )
    console.print(table)
    console.print(
        f"run [bold]{run.run_id}[/]: re-coded {len(plan.recode)}, reused {len(plan.reuse)}, "
        f"changed {len(changes)}; the lists are in its manifest (extra.recode)"
    )
