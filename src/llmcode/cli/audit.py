"""`llmcode audit` (probably-wrong human labels) and `llmcode calibrate` (does 0.9 mean 90%?)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from llmcode.cli.app import app, err_console
from llmcode.cli.choices import CodeLevel, ConfidenceSource
from llmcode.cli.options import RunRef, RunsDir
from llmcode.cli.tables import fill_table, fits
from llmcode.cli.terminal import Console
from llmcode.numbers import UNDEFINED, format_fixed, format_share

if TYPE_CHECKING:
    from llmcode.quality.audit import AuditResult, CoderQuality
    from llmcode.quality.calibration import Calibration
    from llmcode.quality.thresholds import ThresholdRow

console = Console(highlight=False)
HumanCodes = Annotated[
    Path, typer.Option("--human", help="Human codes in long format (item_id, coder, code).")
]
CoderName = Annotated[
    str | None, typer.Option("--coder", help="Whose codes to use when the file has several coders.")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.command("audit")
def audit(
    run_ref: RunRef,
    human: HumanCodes,
    coder: CoderName = None,
    top: Annotated[
        int | None, typer.Option("--top", min=1, help="List only the N most likely errors.")
    ] = None,
    as_json: JsonFlag = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue", help="Write runs/<id>/audit.json for `llmcode review RUN --queue audit`."
        ),
    ] = False,
    min_share: Annotated[
        float,
        typer.Option(
            "--min-share",
            min=0.0,
            max=1.0,
            help="Flag only items whose model code won more than this share of the samples.",
        ),
    ] = 0.5,  # llmcode.quality.audit.MIN_SHARE (a test keeps them equal)
    runs_dir: RunsDir = None,
) -> None:
    """Rank human labels that are probably wrong: the model disagrees confidently, with evidence."""
    from llmcode.quality.audit import audit as audit_run
    from llmcode.quality.audit import write_audit_queue
    from llmcode.store.runs import RunStore

    run = RunStore(runs_dir).open(run_ref)
    result = audit_run(run, human, coder=coder, top=top, min_share=min_share)
    if not result.ranked:  # said first: a ranked list where every score ties misleads
        (err_console if as_json else console).print(
            "[yellow]note:[/] one coding per item and no log-probabilities, so every "
            "disagreement scores alike and the order below is not a ranking; code with "
            "--samples 3 --temperature 0.7 (or a backend that returns log-probabilities) to rank "
            "them by the model's confidence"
        )
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        _print_audit(result)
    if queue:
        path = write_audit_queue(run, result)
        out = err_console if as_json else console
        out.print(f"wrote {path} ({len(result.items)} item(s)); review them with:")
        out.print(f"  llmcode review {run.run_id} --queue audit", style="bold")


@app.command("calibrate")
def calibrate_run(
    run_ref: RunRef,
    human: HumanCodes,
    coder: CoderName = None,
    confidence: Annotated[
        ConfidenceSource,
        typer.Option(
            "--confidence",
            help="auto, vote (samples), logprob (token probabilities) or stated (the model's "
            "own number).",
        ),
    ] = ConfidenceSource.auto,
    bins: Annotated[
        int, typer.Option("--bins", min=1, max=100, help="Equal-width confidence bins.")
    ] = 10,
    as_json: JsonFlag = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also save the reliability diagram (PNG, SVG or PDF)."),
    ] = None,
    threshold: Annotated[
        list[float] | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help="Confidence threshold(s) for the threshold table, repeatable "
            "[default: 0.5 0.6 0.7 0.8 0.9 0.95 1].",
        ),
    ] = None,
    level: Annotated[
        CodeLevel | None,
        typer.Option(
            "--level",
            help="Judge at this taxonomy level: top counts a subcategory as its category "
            "(a leaves run against category-level human codes) [default: the run's level].",
            show_default=False,
        ),
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Expected calibration error and a reliability table of a run's confidences vs human codes,
    and for confidence thresholds the share of items above each and their error rate."""
    from llmcode.quality.calibration import check_figure_path, save_reliability_figure
    from llmcode.quality.run_calibration import calibrate

    if plot is not None:
        check_figure_path(plot)  # before the work, not after it
    result = calibrate(
        run_ref,
        human,
        coder=coder,
        confidence=confidence.value,
        bins=bins,
        thresholds=threshold,
        runs_dir=runs_dir,
        level=level.value if level else None,
    )
    if plot is not None:
        plot = save_reliability_figure(result.calibration, plot)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return
    _print_calibration(result.calibration, result.self_agreement, result.samples)
    _print_thresholds(result.thresholds)
    if plot is not None:
        console.print(f"wrote {plot}", style="green")


def _print_audit(result: AuditResult) -> None:
    """The ranked labels: one table at a wide terminal; in a narrow one the justification and
    evidence are printed under the table, each after its rank, so no column is squeezed."""
    console.print(f"probably wrong labels by {escape(result.coder)} in {escape(result.run_id)}")
    columns = ["#", "item", "human", "model", "share", "score", "justification", "evidence"]
    rows = []
    for entry in result.items:
        quote = entry.evidence[0].quote if entry.evidence else ""
        verified = all(span.verified for span in entry.evidence)
        mark = "" if verified else " [yellow](unverified)[/]"
        rows.append(
            [
                str(entry.rank),
                escape(entry.item_id),
                escape(entry.human_code),
                escape(entry.model_code),
                f"{entry.model_share:.0%}",
                f"{entry.score:.2f}",
                escape(_clip(entry.justification, 90)),
                f'"{escape(_clip(quote, 70))}"{mark}' if quote else "",
            ]
        )
    text = ("item", "human", "model", "justification", "evidence")
    wide = fits(_table(), columns, rows, text=text, width=console.width, least=20)
    shown = columns if wide else columns[:-2]
    table = fill_table(
        _table(),
        shown,
        [row[: len(shown)] for row in rows],
        text=text,
        width=console.width,
        fold=("item", "justification", "evidence"),
        least={"item": 12, "human": 18, "model": 18},
    )
    console.print(table)
    if not wide:
        notes = Table.grid(padding=(0, 2, 0, 1))
        notes.add_column(justify="right", no_wrap=True)
        notes.add_column()
        for row in rows:
            notes.add_row(row[0], "\n".join(cell for cell in row[6:] if cell))
        console.print(notes)
    console.print(
        f"{result.n_flagged} of {result.n_audited} label(s) flagged by confident learning "
        f"({result.n_disagreements} disagree with the model's code); "
        f"{len(result.items)} listed"
        + (
            f"; {len(result.not_audited)} of {result.coder}'s items not in the run or without a "
            "usable coding"
            if result.not_audited
            else ""
        )
    )
    if result.coders:
        _print_coders(result.coders)


def _table() -> Table:
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)


def _print_coders(coders: list[CoderQuality]) -> None:
    table = Table(title="per-coder quality", title_justify="left")
    for column in ("coder", "items", "= model", "α with model", "= consensus"):
        table.add_column(column, justify="left" if column == "coder" else "right")
    for q in coders:
        table.add_row(
            q.coder,
            str(q.items),
            _pct(q.with_model, q.model_items),
            format_fixed(q.alpha_with_model, 3),
            _pct(q.with_consensus, q.consensus_items),
        )
    console.print(table)
    console.print("consensus: the code most of the other coders and the model gave (ties left out)")


def _print_calibration(result: Calibration, alpha: float | None, samples: int) -> None:
    from llmcode.quality.confidence import KIND_NAMES

    kind = KIND_NAMES.get(result.source, result.source)
    table = Table(title=f"reliability ({kind} confidence)", title_justify="left")
    for column in ("bin", "n", "confidence", "accuracy", "gap"):
        table.add_column(column, justify="right")
    for row in result.table.itertuples():
        if row.n == 0:
            table.add_row(f"{row.lower:.2f}–{row.upper:.2f}", "0", "", "", "")
            continue
        table.add_row(
            f"{row.lower:.2f}–{row.upper:.2f}",
            str(row.n),
            f"{row.confidence:.3f}",
            f"{row.accuracy:.3f}",
            f"{row.gap:+.3f}",
        )
    console.print(table)
    lean = "over" if result.mean_confidence > result.accuracy else "under"
    console.print(
        f"ECE {result.ece:.3f} over {result.n} code(s); accuracy {result.accuracy:.3f}, "
        f"mean confidence {result.mean_confidence:.3f} ({lean}confident by "
        f"{abs(result.mean_confidence - result.accuracy):.3f})"
    )
    if alpha is not None:
        console.print(f"run-to-run α across {samples} samples: {alpha:.3f}")
    elif samples > 1:
        console.print(f"run-to-run α across {samples} samples: undefined (no variation)")


def _print_thresholds(rows: list[ThresholdRow]) -> None:
    table = Table(title="confidence thresholds", title_justify="left")
    for column in ("≥ threshold", "items above", "share", "gold above", "error rate", "95% CI"):
        table.add_column(column, justify="right")
    for row in rows:
        interval = row.interval
        table.add_row(
            f"{row.threshold:g}",
            str(row.n_above),
            f"{row.share_above:.0%}",
            str(row.n_gold_above),
            format_share(row.error_rate),
            UNDEFINED if interval is None else f"{interval[0]:.1%}–{interval[1]:.1%}",
        )
    console.print(table)
    console.print(
        "above: verified, undisputed items whose every code has at least that confidence; "
        "error: the code set differs from the human's (auto-accept with "
        "`llmcode review RUN --auto-accept-above T`)"
    )


def _pct(value: float | None, n: int) -> str:
    return UNDEFINED if value is None else f"{value:.0%} of {n}"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
