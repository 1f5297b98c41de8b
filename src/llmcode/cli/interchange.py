"""`llmcode taxonomy export|import` (REFI-QDA codebooks), `llmcode import qdpx|github`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from llmcode import environment
from llmcode.cli.app import import_app, taxonomy_app
from llmcode.cli.choices import CodebookFormat, IssueState
from llmcode.cli.terminal import Console

console = Console(highlight=False, stderr=True)


@taxonomy_app.command("export")
def export_taxonomy(
    path: Annotated[Path, typer.Argument(help="Taxonomy YAML file.")],
    fmt: Annotated[
        CodebookFormat, typer.Option("--format", "-f", help="qdc (REFI-QDA codebook).")
    ] = CodebookFormat.qdc,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write [default: stdout].")
    ] = None,
) -> None:
    """Export a taxonomy as a REFI-QDA codebook for ATLAS.ti, MAXQDA, NVivo, QualCoder..."""
    from llmcode.interchange.refi import codebook_xml, write_codebook
    from llmcode.taxonomy.model import load_taxonomy

    taxonomy = load_taxonomy(path)
    if output is None:
        sys.stdout.write(codebook_xml(taxonomy).decode("utf-8"))
        return
    count = write_codebook(taxonomy, output)
    console.print(
        f"wrote {output}: {count} codes of {taxonomy.name} {taxonomy.version}", style="green"
    )


@taxonomy_app.command("import")
def import_taxonomy(
    path: Annotated[Path, typer.Argument(help="REFI-QDA codebook (.qdc) or project (.qdpx).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Taxonomy YAML to write [default: stdout]."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Taxonomy name when the codebook has none [default: file name]."
        ),
    ] = None,
) -> None:
    """Read a REFI-QDA codebook as a taxonomy: names, definitions and nesting kept."""
    from llmcode.interchange.refi import read_taxonomy
    from llmcode.taxonomy.model import dump_taxonomy

    taxonomy, warnings = read_taxonomy(path, name=name)
    text = dump_taxonomy(taxonomy, header=f"imported from {path.name} by llmcode")
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    n = sum(1 for _ in taxonomy.walk())
    label = "multi" if taxonomy.multi_label else "single"
    console.print(f"wrote {output}: {n} categories, {label}-label", style="green")


@import_app.command("qdpx")
def import_qdpx(
    path: Annotated[Path, typer.Argument(help="REFI-QDA project (.qdpx) from a QDA tool.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Coded passages in long format: item_id, coder, code, start, end, evidence.",
        ),
    ],
    items_out: Annotated[
        Path | None,
        typer.Option(
            "--items-out", help="Also write the sources as items (item_id, text, variables)."
        ),
    ] = None,
    coder: Annotated[
        list[str] | None,
        typer.Option("--coder", help="Keep only this user's codings (repeatable)."),
    ] = None,
) -> None:
    """Import a QDA project's coded passages (coder = user name), e.g. for `agree --unit segment`."""
    from llmcode.interchange.refi import read_project
    from llmcode.store.export import table_format, write_codes

    imported = read_project(path, coders=coder)
    for warning in imported.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    write_codes(imported.codes, output, table_format(output))
    console.print(f"wrote {output}: {imported}", style="green")
    if items_out is not None:
        write_codes(imported.items, items_out, table_format(items_out))
        console.print(f"wrote {items_out}: {len(imported.items)} items", style="green")


@import_app.command("github")
def import_github(
    source: Annotated[
        str,
        typer.Argument(
            help="OWNER/REPO, or a JSON file from `gh issue list --json ...` or the API."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Items file to write (.csv or .jsonl).")
    ],
    state: Annotated[
        IssueState, typer.Option("--state", help="open, closed or all.")
    ] = IssueState.all,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only issues updated at or after this date (YYYY-MM-DD)."),
    ] = None,
    labels: Annotated[
        list[str] | None,
        typer.Option(
            "--labels", help="Only issues with all these labels (comma-separated or repeated)."
        ),
    ] = None,
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url",
            envvar="GITHUB_API_URL",
            help="API root; GitHub Enterprise: https://HOST/api/v3.",
        ),
    ] = "https://api.github.com",
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo", help="JSON file: OWNER/REPO for item ids when the issues carry no url."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the output instead of resuming it.")
    ] = False,
) -> None:
    """Import GitHub issues (not pull requests) as items: item_id, title, body, labels, ... url.

    From the REST API (GITHUB_TOKEN if set; rate limits are waited out; an interrupted import
    resumes when run again) or from a JSON file of issues.
    """
    from llmcode.interchange.github import import_issues

    result = import_issues(
        source,
        output,
        state=state.value,
        since=since,
        labels=labels,
        base_url=base_url,
        repo=repo,
        overwrite=overwrite,
        token=environment.github_token(),
        on_event=_show_event,
    )
    console.print(f"wrote {output}: {result}", style="green")


def _show_event(kind: str, data: dict[str, Any]) -> None:
    if kind == "page":
        console.print(f"page {data['page']}: {data['issues']} issues so far", style="dim")
    elif kind == "wait":
        console.print(f"rate limited: waiting {data['seconds']:.0f}s", style="yellow")
    elif kind == "retry":
        console.print(f"retrying after {data['error']}", style="yellow")
    elif kind == "resume":
        console.print(f"resuming: {data['issues']} issues already in the output", style="cyan")
