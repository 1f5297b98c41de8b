"""`llmcode runs list|show` and `llmcode export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from llmcode.cli.app import app, err_console, runs_app
from llmcode.cli.choices import ExportFormat
from llmcode.cli.options import RunRef, RunsDir
from llmcode.cli.run_lines import settings_line, settings_short
from llmcode.cli.terminal import Console
from llmcode.errors import ConfigError

if TYPE_CHECKING:
    from llmcode.store.models import RunManifest

console = Console(highlight=False)


@runs_app.command("list")
def list_runs(runs_dir: RunsDir = None) -> None:
    """List runs, oldest first: each id on a line of its own, under it the settings
    fingerprint, status and creation time, then the model, the taxonomy and the settings that
    differ from their defaults; a run whose manifest cannot be read is listed as unreadable."""
    from llmcode.store.runs import RunStore

    store = RunStore(runs_dir)
    entries = store.scan()
    if not entries:
        console.print(f"no runs in {store.root}")
        return
    longest = max(len(entry.run_id) for entry in entries)
    columns = ("items", "ok", "flagged")
    rows: list[tuple[str, list[str], list[str]]] = []  # run id, lines under it, counts
    problems, notes = [], []
    for entry in entries:
        m = entry.manifest
        if m is None:
            rows.append((entry.run_id, ["[red]unreadable[/]"], ["", "", ""]))
            problems.append(f"{entry.run_id}: {entry.problem}")
            continue
        flagged = sum(m.counts.get(s, 0) for s in ("unverified", "invalid", "error"))
        if entry.problem:
            notes.append(entry.problem)
        status = entry.status or m.status
        kind = "" if m.kind == "closed" else f" ({escape(m.kind)})"
        taxonomy = f"{m.taxonomy.get('name', '')} {m.taxonomy.get('version', '')}".strip()
        lines = [
            f"[dim]{m.config.fingerprint()}[/] · {escape(status)}{kind} · "
            f"{m.created_at.strftime('%Y-%m-%d %H:%M')}",
            escape(f"{m.coder}; {taxonomy}; {settings_short(m.config)}"),
        ]
        counts = [_count(m.items.get("n_items")), _count(m.counts.get("ok")), str(flagged)]
        rows.append((entry.run_id, lines, counts))
    widths = [max([len(c)] + [len(r[2][n]) for r in rows]) for n, c in enumerate(columns)]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, expand=True)
    table.add_column("run", min_width=longest, ratio=1)
    if console.width >= longest + sum(widths) + 2 * len(widths) + 2:
        for column, width in zip(columns, widths, strict=True):
            table.add_column(column, justify="right", no_wrap=True, min_width=width)
        for run_id, lines, counts in rows:
            table.add_row(_run_cell(run_id, *lines), *counts)
    else:  # too narrow for the id and the counts side by side: the counts under the id
        for run_id, lines, counts in rows:
            said = ", ".join(f"{n} {c}" for n, c in zip(counts, columns, strict=True) if n)
            table.add_row(_run_cell(run_id, *lines[:1], said, *lines[1:]))
    console.print(table)
    console.print(
        "[dim]under each run: its settings fingerprint (the same one: runs asked alike), "
        "status, creation time; model, taxonomy and the settings that differ from their "
        "defaults[/]"
    )
    for problem in problems:
        err_console.print(f"[red]unreadable[/] {escape(problem)}")
    for note in notes:
        err_console.print(f"[yellow]note[/] {escape(note)}")


def _run_cell(run_id: str, *lines: str) -> Group:
    """A run's id on a line of its own, never folded (users copy it), then ``lines``
    (markup) indented, wrapping at the column's width."""
    first = Text(run_id, style="bold", no_wrap=True, overflow="ignore")
    return Group(first, *(Padding(Text.from_markup(line), (0, 0, 0, 2)) for line in lines))


def _count(value: object) -> str:
    """A count as an integer ("" when unknown): manifests may hold 4.0 for 4."""
    return "" if value is None or value == "" else str(int(float(str(value))))


@runs_app.command("show")
def show_run(
    run_ref: RunRef,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
    as_toml: Annotated[
        bool,
        typer.Option(
            "--toml",
            help="Print only the run's settings as TOML, for `llmcode code --config FILE`.",
        ),
    ] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Show a run's provenance, counts, usage, code distribution and settings (as TOML)."""
    from llmcode.llm.redaction import redact
    from llmcode.store.runs import RunStore, run_status

    run = RunStore(runs_dir).open(run_ref)
    manifest = run.manifest()
    if as_json:
        sys.stdout.write((redact(manifest.model_dump_json(indent=2)) or "") + "\n")
        return
    if as_toml:
        sys.stdout.write(redact(manifest.config.to_toml()) or "")
        return
    table = Table(show_header=False, title=f"run {escape(manifest.run_id)}", title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    rows = summary_rows(manifest)
    rows["status"] = run_status(run.path, manifest)
    if manifest.config.sampling.samples > 1:
        from llmcode.quality.confidence import self_agreement

        alpha = self_agreement(run)
        rows["self-agreement"] = (
            f"Krippendorff's α {alpha:.3f} across {manifest.config.sampling.samples} samples"
            if alpha is not None
            else "undefined (too few items or a single category)"
        )
    latest = run.latest_codes()  # one pass, mostly without parsing a record
    if manifest.config.guidance.verify != "off":
        from llmcode.cli.run_lines import disputed_checks

        rows["second look"] = f"{manifest.config.guidance.verify}: disputed " + disputed_checks(
            latest.checks
        )
    for key, value in rows.items():
        table.add_row(key, escape(redact(value) or ""))
    console.print(table)
    codes = latest.codes
    if codes:
        console.print(
            "codes: " + ", ".join(f"{c} {n}" for c, n in codes.most_common()), markup=False
        )
    console.print(
        f"settings (repeat with: llmcode code --config FILE, or --like {manifest.run_id}):"
    )
    console.print(redact(manifest.config.to_toml()) or "", markup=False, highlight=False)


def summary_rows(manifest: RunManifest) -> dict[str, str]:
    """The manifest in words and integers, for people (``--json`` gives the manifest itself)."""
    backend, tax, items, config = (
        manifest.backend,
        manifest.taxonomy,
        manifest.items,
        manifest.config,
    )
    usage = {key: float(value) for key, value in manifest.usage.items()}
    counts = ", ".join(f"{k} {int(v)}" for k, v in manifest.counts.items() if v) or "-"
    where = f" at {backend['base_url']}" if backend.get("base_url") else ""
    rows = {
        "status": manifest.status,
        "kind": manifest.kind,
        "created": manifest.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "finished": manifest.finished_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if manifest.finished_at
        else "-",
        "model": f"{manifest.coder} via {backend.get('backend', config.endpoint.backend)}{where}",
        "taxonomy": f"{tax.get('name', '-')} {tax.get('version', '')} ({tax.get('path', '-')}, "
        f"fingerprint {tax.get('fingerprint', '-')})"
        if tax
        else "-",
        "items": f"{_count(items.get('n_items')) or '-'} from {items.get('path', '-')}"
        + (f" ({_count(items.get('n_skipped'))} skipped)" if items.get("n_skipped") else ""),
        "prompts": f"sha256 {manifest.prompts.get('sha256', '-')}",
        "parameters": f"level {config.inputs.level}, evidence {config.sampling.evidence}, "
        f"temperature {config.sampling.temperature}, seed {config.sampling.seed}, "
        f"samples {config.sampling.samples}, max re-asks {config.sampling.max_reasks}, "
        f"concurrency {config.limits.concurrency}",
        "settings": settings_line(config),
        "counts": counts,
        "usage": f"{int(usage.get('prompt_tokens', 0)):,} prompt + "
        f"{int(usage.get('completion_tokens', 0)):,} completion tokens in "
        f"{int(usage.get('calls', 0)):,} calls ({int(usage.get('cached_calls', 0)):,} cached)",
    }
    if "cost_usd" in usage:
        rows["cost"] = f"${usage['cost_usd']:.4f}" + batch_note(usage)
    if abandoned := int(usage.get("abandoned", 0)):
        rows["abandoned"] = (
            f"{abandoned:,} request(s) in flight when the run was stopped (may be paid; asked again)"
        )
    return rows


def batch_note(usage: dict[str, float]) -> str:
    """What of a run's cost was billed at a batch API's price (empty when nothing was)."""
    batch = int(usage.get("batch_prompt_tokens", 0)) + int(usage.get("batch_completion_tokens", 0))
    if not batch:
        return ""
    total = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    online = total - batch
    return " (batch answers at the batch price" + (
        f"; {online:,} tokens of online re-asks at the live price)" if online else ")"
    )


@app.command("export")
def export(
    run_ref: RunRef,
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="csv, jsonl, parquet or qdpx (REFI-QDA project)."),
    ] = ExportFormat.csv,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write [default: stdout for csv/jsonl]."),
    ] = None,
    reviewed: Annotated[
        bool,
        typer.Option(
            "--reviewed",
            help="Final codes after review, with the reviewer as coder (a run coded in "
            "passages: one row per passage and code, with start, end, action, decided_by).",
        ),
    ] = False,
    reviewer: Annotated[
        str | None,
        typer.Option("--reviewer", help="With --reviewed: only this reviewer's decisions."),
    ] = None,
    final: Annotated[
        bool,
        typer.Option(
            "--final",
            help="The final table: one row per item and code with resolved_by (agreement, "
            "adjudicator, model, automatic, single-coder), adjudicator and coders (a run coded in "
            "passages: one row per passage and code).",
        ),
    ] = False,
    human: Annotated[
        Path | None,
        typer.Option("--human", help="qdpx: add human codes (long format) as their own users."),
    ] = None,
    merge_into: Annotated[
        Path | None,
        typer.Option(
            "--merge-into",
            help="qdpx: add the run's passages, as a new user, to this project from a QDA tool "
            "(its sources, users, codes and codings kept; the file itself never changed).",
        ),
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Export a run's codes in long format: item_id, coder, code, justification, evidence, confidence."""
    from llmcode.store.export import codes_to_bytes, export_note, write_codes, write_output
    from llmcode.store.runs import RunStore, load_run_codes

    run = RunStore(runs_dir).open(run_ref)
    if merge_into is not None and fmt != "qdpx":
        raise ConfigError("--merge-into adds passages to a REFI-QDA project: use --format qdpx")
    if fmt == "qdpx":
        from llmcode.interchange.refi import export_project, merge_project

        if output is None:
            raise ConfigError("qdpx needs an output file", hint="add -o project.qdpx")
        if merge_into is not None:
            if human is not None:
                raise ConfigError(
                    "--human adds codes of a file; the team's codes are already in the project "
                    "merged into: give one of the two"
                )
            merged = merge_project(run, merge_into, output, reviewed=reviewed)
            console.print(f"wrote {output}: {merged}", style="green")
            return
        summary = export_project(run, output, reviewed=reviewed, human=human)
        console.print(f"wrote {output}: {summary}", style="green")
        return
    if reviewed and final:
        raise ConfigError("--final already holds the reviewed codes: give one of the two")
    segments = run.manifest().config.inputs.unit == "segment"
    if final and segments:  # one row per passage and code, with provenance
        from llmcode.store.reviewed_passages import final_passages

        frame = final_passages(run)
    elif final:
        from llmcode.store.final import final_codes

        frame = final_codes(run)
    elif reviewed and segments:
        from llmcode.store.reviewed_passages import reviewed_passages

        frame = reviewed_passages(run, reviewer=reviewer)
        if frame.empty:
            raise ConfigError(
                f"run {run.run_id} has no passage decisions: nothing reviewed to export",
                hint=f"review it first (llmcode review {run.run_id}), or export without --reviewed",
            )
    elif reviewed:
        from llmcode.review.session import reviewed_codes
        from llmcode.store.decisions import load_decisions

        if not load_decisions(run):
            raise ConfigError(
                f"run {run.run_id} has no review decisions: nothing reviewed to export",
                hint=f"review it first (llmcode review {run.run_id}), or export without --reviewed",
            )
        frame = reviewed_codes(run, reviewer=reviewer, include_rejected=True)
    elif segments:  # one row per passage and code
        frame = load_run_codes(run, unverified=True)
    else:  # one row per item and code, streamed: a million items in flat memory
        from llmcode.store.code_rows import code_rows
        from llmcode.store.export import rows_note, rows_to_chunks

        if output is None and fmt == "parquet":
            raise ConfigError("parquet needs an output file", hint="add -o codes.parquet")
        rows = code_rows(run)
        if output is None:
            for chunk in rows_to_chunks(rows, fmt):
                sys.stdout.write(chunk.decode())
            err_console.print(f"exported {rows_note(run, rows)}", markup=False)
            return
        write_output(output, rows_to_chunks(rows, fmt))
        console.print(f"wrote {rows_note(run, rows, output)}", style="green", markup=False)
        return
    if output is None:
        if fmt == "parquet":
            raise ConfigError("parquet needs an output file", hint="add -o codes.parquet")
        sys.stdout.write(codes_to_bytes(frame, fmt).decode())
        err_console.print(f"exported {export_note(run, frame)}", markup=False)
        return
    write_codes(frame, output, fmt)
    console.print(f"wrote {export_note(run, frame, output)}", style="green", markup=False)
    if reviewed or final:
        from llmcode.store.export import copy_sampling_sidecar

        if (sidecar := copy_sampling_sidecar(run, output)) is not None:
            console.print(f"wrote {sidecar} (how the gold sample was drawn)", markup=False)
