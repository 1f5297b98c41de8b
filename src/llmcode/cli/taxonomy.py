"""`llmcode taxonomy check|show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.tree import Tree

from llmcode.cli.app import taxonomy_app
from llmcode.taxonomy.model import Category, load_taxonomy

console = Console(highlight=False)


@taxonomy_app.command("check")
def check(path: Annotated[Path, typer.Argument(help="Taxonomy YAML file.")]) -> None:
    """Validate a taxonomy file: exit 0 when valid, 1 with file:line field: message when not."""
    taxonomy = load_taxonomy(path)
    n = sum(1 for _ in taxonomy.walk())
    console.print(
        f"[green]ok[/] {path}: {taxonomy.name} {taxonomy.version}, {len(taxonomy.categories)} "
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
    taxonomy = load_taxonomy(path)
    label = "multi-label" if taxonomy.multi_label else "single-label"
    tree = Tree(f"[bold]{taxonomy.name}[/] {taxonomy.version} [dim]({label})[/]")
    if taxonomy.description:
        tree.add(f"[dim]{taxonomy.description.strip()}[/]")
    for category in taxonomy.categories:
        _add(tree, category, details)
    console.print(tree)


def _add(tree: Tree, category: Category, details: bool) -> None:
    node = tree.add(f"[bold cyan]{category.id}[/] {category.name}: {category.definition.strip()}")
    if details:
        for criterion in category.include:
            node.add(f"[green]+[/] {criterion}")
        for criterion in category.exclude:
            node.add(f"[red]-[/] {criterion}")
        for example in category.examples:
            node.add(f'[dim]e.g. "{example.text}"[/]')
    for child in category.children:
        _add(node, child, details)
