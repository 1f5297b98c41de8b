"""Rendering a `Report`: one self-contained HTML page, or Markdown with PNG figures; tables as CSV.
`write_report` writes the page (and a Markdown page's figures) to a file.

The HTML page has its CSS inline and the figures as SVG data URIs, so it is one file to share
or attach. The Markdown's pipe tables paste into a paper; its figures are PNG files written next
to it; every value from data is HTML-escaped in both. Number formats follow papers: 3 significant
digits, p-values below 0.001 as "< 0.001".
"""

from __future__ import annotations

import base64
import html
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from llmcode.analysis.figures import figure_bytes
from llmcode.analysis.report import Report
from llmcode.csvfiles import write_csv
from llmcode.errors import ConfigError, OutputError
from llmcode.numbers import (
    format_fixed,
    format_interval,
    format_number,
    format_p,
    format_p_clause,
    format_share,
)
from llmcode.store.jsonl import atomic_write

REPORT_FORMATS = ("html", "md")


def render_html(report: Report) -> str:
    """One self-contained HTML page: inline CSS, figures as SVG data URIs."""
    images = {
        name: "data:image/svg+xml;base64," + base64.b64encode(figure_bytes(fig, "svg")).decode()
        for name, fig in report.figures.items()
    }
    return _environment().get_template("report.html.j2").render(r=report, images=images)


def render_markdown(report: Report, figure_dir: str) -> tuple[str, dict[str, bytes]]:
    """Markdown text (figures linked under ``figure_dir``) and the PNG files to write there."""
    files = {f"{name}.png": figure_bytes(fig, "png") for name, fig in report.figures.items()}
    images = {name: f"{figure_dir}/{name}.png" for name in report.figures}
    text = _environment(markdown=True).get_template("report.md.j2").render(r=report, images=images)
    return text, files


def write_tables(
    tables: dict[str, pd.DataFrame], result: dict[str, Any], directory: Path
) -> list[Path]:
    """Write each table as ``<name>.csv`` and the whole analysis as ``analysis.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = directory / f"{name}.csv"
        atomic_write(path, write_csv(frame) or "", OutputError)
        written.append(path)
    path = directory / "analysis.json"
    atomic_write(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n", OutputError)
    return [*written, path]


def write_report(report: Report, path: str | Path | None = None, format: str = "html") -> Path:
    """Write ``report`` as ``format`` (html or md) to ``path`` [default: ``report.<format>``].

    HTML is one self-contained file; Markdown gets its figures as PNG files in
    ``<stem>_files/`` next to it. Returns the path written.
    """
    if format not in REPORT_FORMATS:
        raise ConfigError(
            f"format must be one of {', '.join(REPORT_FORMATS)}, not '{format}'",
            hint="html is one self-contained page; md is Markdown with PNG figures",
        )
    output = Path(path) if path is not None else Path(f"report.{format}")
    output.parent.mkdir(parents=True, exist_ok=True)
    if format == "html":
        atomic_write(output, render_html(report), OutputError)
        return output
    if output.is_dir():
        raise OutputError(
            f"cannot write {output}: it is a directory", hint="give a file name, e.g. report.md"
        )
    figure_dir = output.with_name(output.stem + "_files")
    text, files = render_markdown(report, figure_dir.name)
    created = not figure_dir.exists()
    try:
        figure_dir.mkdir(exist_ok=True)
        for name, data in files.items():
            (figure_dir / name).write_bytes(data)
        atomic_write(output, text, OutputError)
    except (OSError, OutputError) as exc:  # a failed report leaves no figures of its own behind
        if created:
            shutil.rmtree(figure_dir, ignore_errors=True)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write {figure_dir}: {exc.strerror or exc}") from exc
    return output


def _environment(markdown: bool = False) -> Environment:
    env = Environment(
        loader=PackageLoader("llmcode.analysis", "templates"),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=markdown_text if markdown else None,
    )
    env.filters.update(
        num=format_number,
        fixed=format_fixed,
        ci=format_interval,
        p=format_p,
        pclause=format_p_clause,
        pct=format_share,
        cell=markdown_cell,
        exp=lambda value: math.exp(float(value)),
    )
    return env


def markdown_text(value: Any) -> Any:
    """A value printed into Markdown with ``&``, ``<`` and ``>`` escaped: raw HTML in items, a
    taxonomy or a coder's name shows as text instead of running in a Markdown viewer."""
    return html.escape(value, quote=False) if isinstance(value, str) else value


def markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, newlines folded)."""
    return " ".join(str(value).split()).replace("|", "\\|")
