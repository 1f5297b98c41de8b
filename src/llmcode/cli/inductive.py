"""`llmcode open-code | themes | recode` and `llmcode taxonomy propose | diff | map`."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmcode.cli.app import app, taxonomy_app
from llmcode.cli.options import RunRef, RunsDir
from llmcode.coding.lifecycle import finish_run, pending_items
from llmcode.errors import ConfigError
from llmcode.items import load_items
from llmcode.llm.backends import Backend, choose_backend_name, make_backend
from llmcode.llm.cache import ResponseCache
from llmcode.store.runs import CodingRecord, Run, RunConfig, RunStore, read_jsonl
from llmcode.taxonomy.model import load_taxonomy

console = Console(highlight=False)
T = TypeVar("T")

Backend_ = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="openai or local [default: the run's, else local unless a key or base URL is set].",
    ),
]
Model = Annotated[str | None, typer.Option("--model", help="Model name (openai) or label (local).")]
BaseUrl = Annotated[
    str | None,
    typer.Option("--base-url", envvar="OPENAI_BASE_URL", help="OpenAI-compatible endpoint."),
]
ModelPath = Annotated[
    Path | None,
    typer.Option(
        "--model-path", help="GGUF file for the local backend [default: bundled SmolLM2-135M]."
    ),
]
MaxReasks = Annotated[int, typer.Option("--max-reasks", min=0, help="Re-asks on invalid output.")]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Do not read or write the response cache.")
]


def _llm(config: RunConfig | None, backend: str | None, model: str | None, base_url: str | None,
         model_path: Path | None) -> Backend:  # fmt: skip
    """The requested backend, else the one ``config`` (a run's) used, else the default."""
    if config is not None and backend is None:
        return make_backend(
            config.backend, model=model or config.model, base_url=base_url or config.base_url,
            model_path=str(model_path) if model_path else config.model_path,
        )  # fmt: skip
    return make_backend(
        choose_backend_name(backend, base_url), model=model, base_url=base_url,
        model_path=str(model_path) if model_path else None,
    )  # fmt: skip


def _run_then_close(llm: Backend, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` and close the backend in the same event loop (its connections live there)."""

    async def main() -> T:
        try:
            return await work
        finally:
            await llm.aclose()

    return asyncio.run(main())


def _progress(label: str, total: int) -> tuple[Progress, object]:
    progress = Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[red]{task.fields[flagged]} flagged"), TimeElapsedColumn(),
        console=console,
    )  # fmt: skip
    return progress, progress.add_task(label, total=total, flagged=0)


@app.command("open-code")
def open_code(
    items: Annotated[
        Path | None, typer.Option("--items", "-i", help="Items: CSV, JSONL, XLSX or Parquet.")
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option(
            "--taxonomy", "-t", help="Seed the code list with this taxonomy's categories."
        ),
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Name of the new run.")] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue this open-coding run.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Code only the first N items.")
    ] = None,
    max_codes: Annotated[
        int, typer.Option("--max-codes", min=1, max=10, help="Codes per item at most.")
    ] = 3,
    id_column: Annotated[
        str, typer.Option("--id-column", help="Column with item ids.")
    ] = "item_id",
    text_column: Annotated[
        list[str] | None,
        typer.Option(
            "--text-column", help="Text column(s), repeatable [default: text, or title + body]."
        ),
    ] = None,
    backend: Backend_ = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0)] = 0.0,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=16, help="Answer token limit.")
    ] = 384,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampling seed.")] = 0,
    evidence: Annotated[
        str | None,
        typer.Option(
            "--evidence",
            help="free: the model writes quotes; choice: it picks sentences of the item "
            "[default: choice for local, free for openai].",
        ),
    ] = None,
    max_reasks: MaxReasks = 2,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """Open coding: short codes per item with verified evidence, names kept consistent."""
    from llmcode.coding.opencoding import (
        OpenCoder,
        load_code_list,
        load_open_prompts,
        open_code_items,
        start_open_run,
    )  # fmt: skip

    store = RunStore(runs_dir)
    prompts = load_open_prompts()
    if resume:
        run = store.open(resume)
        config = run.manifest().config
        if run.manifest().kind != "open":
            raise ConfigError(f"run '{run.run_id}' is not an open-coding run")
        llm = _llm(config, backend, model, base_url, model_path)
        todo = pending_items(run)
        max_codes = int(run.manifest().extra.get("max_codes_per_item", max_codes))
        console.print(f"resuming [bold]{run.run_id}[/]: {len(todo)} item(s) left")
    else:
        if items is None:
            raise ConfigError("give --items (or --resume RUN_ID)")
        if evidence not in (None, "free", "choice"):
            raise ConfigError(f"--evidence must be free or choice, not '{evidence}'")
        backend_name = choose_backend_name(backend, base_url)
        seed_tax = load_taxonomy(taxonomy) if taxonomy else None
        item_set = load_items(items, id_column=id_column, text_columns=text_column)
        config = RunConfig(
            taxonomy_path=str(taxonomy) if taxonomy else "", items_path=str(items),
            id_column=id_column, text_columns=tuple(item_set.text_columns),
            backend=backend_name, model=model, base_url=base_url,
            model_path=str(model_path) if model_path else None, temperature=temperature,
            max_tokens=max_tokens, seed=seed, concurrency=1, max_reasks=max_reasks, limit=limit,
            evidence=evidence or ("choice" if backend_name == "local" else "free"),
        )  # fmt: skip
        llm = _llm(config, None, None, None, None)
        seed_text = taxonomy.read_text(encoding="utf-8") if taxonomy else ""
        run = start_open_run(
            store, config, item_set, prompts, llm, run_id, seed_tax, seed_text, max_codes
        )
        todo = run.items()
        console.print(
            f"open coding run [bold]{run.run_id}[/]: {len(todo)} item(s), "
            f"{llm.describe()['backend']} model {llm.model}"
            + (f", seeded with {seed_tax.name} {seed_tax.version}" if seed_tax else "")
        )
    cache = None if no_cache else ResponseCache(store.root / ".cache")
    coder = OpenCoder(llm, prompts, config, load_code_list(run), cache, max_codes)
    status = "interrupted"
    progress, task = _progress("open coding", len(todo))
    flagged = 0

    def on_record(record: CodingRecord) -> None:
        nonlocal flagged
        flagged += record.status != "ok"
        progress.update(task, advance=1, flagged=flagged)  # type: ignore[arg-type]

    try:
        with progress:
            _run_then_close(llm, open_code_items(todo, coder, run, on_record))
        status = "complete"
    finally:
        manifest = finish_run(run, status)
    _print_open_summary(run)
    console.print("status: " + ", ".join(f"{k} {v}" for k, v in manifest.counts.items() if v))
    console.print(f"next: llmcode themes {run.run_id} -o taxonomy/draft.yaml")


def _print_open_summary(run: Run) -> None:
    from llmcode.coding.opencoding import CODEBOOK

    names = {row["code"]: row["name"] for row in read_jsonl(run.path / CODEBOOK)}
    counts = Counter(c.code for r in run.latest_codings().values() for c in r.codes)
    table = Table(title=f"{len(counts)} open codes in {run.run_id}", title_justify="left")
    table.add_column("code")
    table.add_column("name")
    table.add_column("items", justify="right")
    for code, n in counts.most_common(25):
        table.add_row(code, names.get(code, ""), str(n))
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
        str,
        typer.Option(
            "--embedder", help="tfidf, or sentence-transformers (a model already on disk)."
        ),
    ] = "tfidf",
    embedding_model: Annotated[
        str | None,
        typer.Option("--embedding-model", help="sentence-transformers model name or path."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Taxonomy name [default: draft-RUN_ID].")
    ] = None,
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Mark the draft multi-label.")
    ] = False,
    backend: Backend_ = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    max_reasks: MaxReasks = 2,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """Group a run's open codes into candidate categories and write a draft taxonomy."""
    from llmcode.coding.themes import build_themes, draft_taxonomy

    if embedder not in ("tfidf", "sentence-transformers"):
        raise ConfigError(f"--embedder must be tfidf or sentence-transformers, not '{embedder}'")
    store = RunStore(runs_dir)
    run = store.open(run_ref)
    llm = _llm(run.manifest().config, backend, model, base_url, model_path)
    cache = None if no_cache else ResponseCache(store.root / ".cache")
    found = _run_then_close(
        llm, build_themes(run, llm, n_themes, embedder, embedding_model, cache,  # type: ignore[arg-type]
                          max_reasks=max_reasks)
    )  # fmt: skip
    taxonomy, text = draft_taxonomy(found, run, llm, name, embedder, multi_label)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    table = Table(title=f"{len(found)} themes from {run.run_id}", title_justify="left")
    for column in ("id", "name", "open codes", "items", "check"):
        table.add_column(column)
    for theme in found:
        items = len({i for c in theme.codes for i in c.item_ids})
        codes = ", ".join(c.name for c in theme.codes[:4]) + (" …" if len(theme.codes) > 4 else "")
        table.add_row(theme.category.id, theme.category.name, codes, str(items),
                      "; ".join(theme.flags) or "-")  # fmt: skip
    console.print(table)
    console.print(f"[green]wrote[/] {output} ({taxonomy.name} {taxonomy.version}); "
                  f"next: llmcode taxonomy check {output}")  # fmt: skip


@app.command("recode")
def recode(
    run_ref: RunRef,
    taxonomy: Annotated[Path, typer.Option("--taxonomy", "-t", help="The new taxonomy version.")],
    run_id: Annotated[str | None, typer.Option("--run-id", help="Name of the new run.")] = None,
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
    backend: Backend_ = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """Re-code a run after a taxonomy change: only items the change can affect; reuse the rest."""
    from llmcode.coding.recode import plan_recode, run_recode
    from llmcode.llm.prompts import load_prompts

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
    old_config = previous.manifest().config
    llm = _llm(old_config, backend, model, base_url, model_path)
    config = old_config.model_copy(
        update={"taxonomy_path": str(taxonomy), "backend": llm.name,
                "model": model or old_config.model, "base_url": base_url or old_config.base_url}
    )  # fmt: skip
    cache = None if no_cache else ResponseCache(store.root / ".cache")
    progress, task = _progress("re-coding", len(plan.recode))
    with progress:
        run, changes = _run_then_close(
            llm, run_recode(previous, plan, new_tax, taxonomy.read_text(encoding="utf-8"), config,
                            store, llm, load_prompts(), cache, run_id,
                            lambda r: progress.update(task, advance=1)))  # type: ignore[arg-type]  # fmt: skip
    table = Table(title=f"{len(changes)} item(s) changed code", title_justify="left")
    for column in ("item_id", "before", "after", "why re-coded"):
        table.add_column(column)
    for change in changes:
        table.add_row(change.item_id, ", ".join(change.old) or "-", ", ".join(change.new) or "-",
                      plan.recode[change.item_id])  # fmt: skip
    console.print(table)
    console.print(
        f"run [bold]{run.run_id}[/]: re-coded {len(plan.recode)}, reused {len(plan.reuse)}, "
        f"changed {len(changes)}; the lists are in its manifest (extra.recode)"
    )


@taxonomy_app.command("propose")
def propose(
    run_ref: RunRef,
    output: Annotated[Path, typer.Option("--output", "-o", help="New taxonomy version to write.")],
    changes: Annotated[
        Path | None,
        typer.Option("--changes", help="Change list [default: OUTPUT with .changes.md]."),
    ] = None,
    low_confidence: Annotated[
        float,
        typer.Option(
            "--low-confidence", min=0.0, max=1.0, help="Items below this confidence are signals."
        ),
    ] = 0.5,
    min_support: Annotated[
        int, typer.Option("--min-support", min=1, help="Items an edit needs.")
    ] = 2,
    similarity: Annotated[
        float,
        typer.Option(
            "--similarity",
            min=0.0,
            max=1.0,
            help="TF-IDF similarity at which a suggestion refines an existing category.",
        ),
    ] = 0.2,
    runs_dir: RunsDir = None,
) -> None:
    """Propose edits (new, split, merge, sharpen) from none-fit and low-confidence items."""
    from llmcode.coding.proposals import change_list
    from llmcode.coding.proposals import propose as make_proposal
    from llmcode.taxonomy.model import dump_taxonomy

    run = RunStore(runs_dir).open(run_ref)
    proposal = make_proposal(run, low_confidence, min_support, similarity)
    changes = changes or output.with_name(output.name.removesuffix(".yaml") + ".changes.md")
    header = (f"{proposal.new.name} {proposal.new.version}: proposed by `llmcode taxonomy propose` "
              f"from run {run.run_id}\nchanges and their evidence: {changes.name}")  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(dump_taxonomy(proposal.new, header=header), encoding="utf-8")
    changes.write_text(change_list(proposal, output.name), encoding="utf-8")
    table = Table(title=f"{len(proposal.edits)} proposed edit(s)", title_justify="left")
    for column in ("kind", "categories", "edit", "items"):
        table.add_column(column)
    for edit in proposal.edits:
        table.add_row(edit.kind, ", ".join(edit.targets), edit.title, ", ".join(edit.item_ids))
    console.print(table)
    console.print(f"[green]wrote[/] {output} and {changes}")


@taxonomy_app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="Old taxonomy YAML.")],
    new: Annotated[Path, typer.Argument(help="New taxonomy YAML.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Added, removed, renamed and redefined categories between two taxonomies."""
    from llmcode.taxonomy.diff import diff_taxonomies

    result = diff_taxonomies(load_taxonomy(old), load_taxonomy(new))
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
        return
    console.print(f"[bold]{result.old['name']} {result.old['version']}[/] -> "
                  f"[bold]{result.new['name']} {result.new['version']}[/]")  # fmt: skip
    for ref in result.added:
        console.print(f"[green]+ added[/]     {ref.id} ({ref.name})")
    for ref in result.removed:
        console.print(f"[red]- removed[/]   {ref.id} ({ref.name})")
    for r in result.renamed:
        console.print(
            f"[yellow]~ renamed[/]   {r.old_id} ({r.old_name}) -> {r.new_id} ({r.new_name})"
        )
    for redefined in result.redefined:
        console.print(f"[cyan]* redefined[/] {redefined.id}: {', '.join(redefined.fields)}")
    for setting in result.settings:
        console.print(f"[cyan]* changed[/]   {setting}")
    if result.empty:
        console.print("no differences")
    else:
        console.print(f"[dim]{len(result.unchanged)} categories unchanged[/]")


@taxonomy_app.command("map")
def map_command(
    a: Annotated[Path, typer.Argument(help="Taxonomy A (mapped from).")],
    b: Annotated[Path, typer.Argument(help="Taxonomy B (mapped to).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the crosswalk: .csv or .json.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    level: Annotated[
        str, typer.Option("--level", help="Map top-level categories or leaves: top|leaves.")
    ] = "top",
    backend: Backend_ = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    max_reasks: MaxReasks = 2,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """LLM-assisted crosswalk: each category of A mapped to zero or more of B, justified."""
    from llmcode.coding.crosswalk import Match, map_taxonomies

    if level not in ("top", "leaves"):
        raise ConfigError(f"--level must be top or leaves, not '{level}'")
    if output is not None and output.suffix not in (".csv", ".json"):
        raise ConfigError(f"{output}: the crosswalk is written as .csv or .json")
    tax_a, tax_b = load_taxonomy(a), load_taxonomy(b)
    llm = _llm(None, backend, model, base_url, model_path)
    cache = None if no_cache else ResponseCache(RunStore(runs_dir).root / ".cache")
    result = _run_then_close(
        llm, map_taxonomies(tax_a, tax_b, llm, "leaves" if level == "leaves" else "top", cache,
                            max_reasks=max_reasks)
    )  # fmt: skip
    if output is not None:
        if output.suffix == ".json":
            output.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        else:
            result.frame(tax_b).to_csv(output, index=False)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    table = Table(title=f"{tax_a.name} -> {tax_b.name}", title_justify="left")
    for column in ("A", "B", "relation", "justification", "similarity", "status"):
        table.add_column(column)
    for mapping in result.mappings:
        matches: list[Match | None] = [*mapping.matches] or [None]
        for match in matches:
            sim = "" if match is None or match.similarity is None else f"{match.similarity:.2f}"
            table.add_row(
                mapping.source, match.code if match else "-", match.relation if match else "",
                match.justification if match else "", sim, mapping.status,
            )  # fmt: skip
    console.print(table)
    if output is not None:
        console.print(f"[green]wrote[/] {output}")
