"""`llmcode taxonomy check | show | propose | diff | map`: a taxonomy, its versions, crosswalks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from llmcode.cli.app import taxonomy_app
from llmcode.cli.choices import CodeLevel
from llmcode.cli.options import (
    BackendName,
    BaseUrl,
    MaxReasks,
    Model,
    ModelPath,
    NoCache,
    RunRef,
    RunsDir,
    backend_from_options,
)
from llmcode.cli.running import run_async
from llmcode.cli.terminal import Console

if TYPE_CHECKING:
    from llmcode.taxonomy.model import Category

console = Console(highlight=False)


@taxonomy_app.command("check")
def check(path: Annotated[Path, typer.Argument(help="Taxonomy YAML file.")]) -> None:
    """Validate a taxonomy file: exit 0 when valid, 1 with file:line field: message when not."""
    from llmcode.taxonomy.model import load_taxonomy

    taxonomy = load_taxonomy(path)
    n = sum(1 for _ in taxonomy.walk())
    console.print(
        f"[green]ok[/] {escape(str(path))}: {escape(taxonomy.name)} {escape(taxonomy.version)}, "
        f"{len(taxonomy.categories)} "
        f"top-level categories, {n} in all, {'multi' if taxonomy.multi_label else 'single'}-label"
    )


@taxonomy_app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="Taxonomy YAML file.")],
    details: Annotated[
        bool, typer.Option("--details", "-d", help="Criteria and examples too.")
    ] = False,
) -> None:
    """Show a taxonomy as a tree of categories with their definitions."""
    from llmcode.taxonomy.model import load_taxonomy

    taxonomy = load_taxonomy(path)
    label = "multi-label" if taxonomy.multi_label else "single-label"
    tree = Tree(f"[bold]{escape(taxonomy.name)}[/] {escape(taxonomy.version)} [dim]({label})[/]")
    if taxonomy.description:
        tree.add(f"[dim]{escape(taxonomy.description.strip())}[/]")
    for category in taxonomy.categories:
        _add(tree, category, details)
    console.print(tree)


def _add(tree: Tree, category: Category, details: bool) -> None:
    node = tree.add(
        f"[bold cyan]{category.id}[/] {escape(category.name)}: "
        f"{escape(category.definition.strip())}"
    )
    if details:
        for criterion in category.include:
            node.add(f"[green]+[/] {escape(criterion)}")
        for criterion in category.exclude:
            node.add(f"[red]-[/] {escape(criterion)}")
        for example in category.examples:
            node.add(f'[dim]e.g. "{escape(example.text)}"[/]')
    for child in category.children:
        _add(node, child, details)


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
    from llmcode.coding.proposals import propose as make_proposal
    from llmcode.coding.proposals import write_proposal
    from llmcode.store.runs import RunStore

    run = RunStore(runs_dir).open(run_ref)
    proposal = make_proposal(run, low_confidence, min_support, similarity)
    if not proposal.edits:
        console.print(
            f"no changes proposed: {proposal.signals} signal(s) in run {run.run_id}, none "
            f"with enough support (--min-support {min_support}); nothing written"
        )
        for entry in proposal.unsupported[:10]:
            console.print(f"  [dim]{escape(entry)}[/]")
        return
    changes = write_proposal(proposal, output, changes)
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
    from llmcode.taxonomy.model import load_taxonomy

    result = diff_taxonomies(load_taxonomy(old), load_taxonomy(new))
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
        return
    console.print(
        f"[bold]{result.old['name']} {result.old['version']}[/] -> "
        f"[bold]{result.new['name']} {result.new['version']}[/]"
    )
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
        CodeLevel, typer.Option("--level", help="Map top-level categories or leaves: top|leaves.")
    ] = CodeLevel.top,
    backend: BackendName = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    max_reasks: MaxReasks = 2,
    no_cache: NoCache = False,
    runs_dir: RunsDir = None,
) -> None:
    """LLM-assisted crosswalk: each category of A mapped to zero or more of B, justified."""
    from llmcode.coding.crosswalk import (
        Match,
        check_crosswalk_output,
        map_taxonomies,
        write_crosswalk,
    )
    from llmcode.llm.cache import ResponseCache
    from llmcode.store.runs import RunStore
    from llmcode.taxonomy.model import load_taxonomy

    if output is not None:
        check_crosswalk_output(output)
    tax_a, tax_b = load_taxonomy(a), load_taxonomy(b)
    llm = backend_from_options(None, backend, model, base_url, model_path)
    cache = None if no_cache else ResponseCache(RunStore(runs_dir).root / ".cache")
    result = run_async(
        map_taxonomies(
            tax_a,
            tax_b,
            llm,
            level.value,
            cache,
            max_reasks=max_reasks,
        ),
        [llm],
    )
    if output is not None:
        write_crosswalk(result, tax_b, output)
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
                mapping.source,
                match.code if match else "-",
                match.relation if match else "",
                match.justification if match else "",
                sim,
                mapping.status,
            )
    console.print(table)
    if output is not None:
        console.print(f"[green]wrote[/] {output}")
