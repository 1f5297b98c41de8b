"""The report's figures, drawn with matplotlib's object API (no pyplot, no global state).

Each function takes the analysis tables and returns a `Figure`; `figure_bytes` renders one as
SVG (crisp, for the HTML page) or PNG (for Markdown). Durations are skewed, so resolution box
plots use a log scale; open (censored) items are drawn as hollow triangles at the time they
have been open so far — a lower bound, not a duration.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

BLUE, ORANGE, GREY = "#3b6ea8", "#d9822b", "#8a8a8a"
_RC: Any = {"svg.hashsalt": "llmcode", "font.size": 9, "axes.titlesize": 10}


def _styled(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw inside the report's rc settings (a scoped context, not a global change)."""

    @functools.wraps(draw)
    def wrapper(*args: object, **kwargs: object) -> Figure:
        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return wrapper


@_styled
def distribution_figure(
    counts: pd.DataFrame, compare: pd.DataFrame | None = None, names: Sequence[str] = ("", "")
) -> Figure:
    """Horizontal bars of items per code; with ``compare``, a second bar per code."""
    codes = list(counts["code"])
    if compare is not None:
        codes += [c for c in compare["code"] if c not in codes]
    fig = Figure(figsize=(6.4, 0.45 * len(codes) + 1.0), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(codes))
    series = [(counts, names[0] or "items", BLUE)]
    if compare is not None:
        series.append((compare, names[1] or "compare", ORANGE))
    height = 0.8 / len(series)
    for index, (frame, label, colour) in enumerate(series):
        n = frame.set_index("code")["n"].reindex(codes, fill_value=0)
        offset = (index - (len(series) - 1) / 2) * height
        bars = ax.barh(y + offset, n.to_numpy(), height=height * 0.92, color=colour, label=label)
        ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_yticks(y, codes)
    ax.invert_yaxis()
    ax.set_xlabel("items")
    ax.margins(x=0.12)
    _tidy(ax)
    if compare is not None:  # above the axes: a legend inside would sit on the longest bars
        ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    return fig


@_styled
def confusion_figure(matrix: pd.DataFrame, row_name: str, column_name: str) -> Figure:
    """A heatmap of item counts: rows one coder's codes, columns the other's."""
    size = max(3.6, 0.55 * max(matrix.shape) + 2.2)
    fig = Figure(figsize=(size + 0.8, size), layout="constrained")
    ax = fig.subplots()
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=max(1.0, values.max()))
    ax.set_xticks(range(matrix.shape[1]), list(matrix.columns), rotation=40, ha="right")
    ax.set_yticks(range(matrix.shape[0]), list(matrix.index))
    ax.set_xlabel(column_name)
    ax.set_ylabel(row_name)
    threshold = values.max() / 2 if values.size else 0
    for (i, j), value in np.ndenumerate(values):
        if value:
            colour = "white" if value > threshold else "black"
            ax.text(j, i, f"{int(value)}", ha="center", va="center", color=colour, fontsize=8)
    bar = fig.colorbar(image, ax=ax, shrink=0.7, label="items")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    return fig


@_styled
def resolution_figure(times: pd.DataFrame, order: Sequence[str], by_group: bool) -> Figure:
    """Box plots of days to close: PTM vs other (when split) and per code."""
    panels = 2 if by_group and "group" in times.columns else 1
    fig = Figure(figsize=(4.0 * panels + 3.2, 4.2), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False, width_ratios=[1, 2.4][-panels:])[0]
    if panels == 2:
        groups = {g: times[times["group"] == g] for g in ("ptm", "other")}
        _boxes(axes[0], groups, "PTM-related vs other")
    exploded = times.assign(code=times["codes"].str.split(";")).explode("code")
    per_code = {c: exploded[exploded["code"] == c] for c in order}
    _boxes(axes[-1], per_code, "per code")
    for label in axes[-1].get_xticklabels():
        label.set(rotation=30, horizontalalignment="right", rotation_mode="anchor")
    return fig


@_styled
def forest_figure(shares: dict[str, dict[str, Any]]) -> Figure:
    """Per code, the share with its 95% CI three ways: naive (LLM), classical (gold), PPI.

    ``shares`` maps a code to the JSON of `llmcode analyze --human` (``naive``, ``classical``,
    ``ppi``, each ``{estimate, ci95}``).
    """
    codes = list(shares)
    fig = Figure(figsize=(6.4, 0.55 * len(codes) + 1.2), layout="constrained")
    ax = fig.subplots()
    kinds = (
        ("naive", "LLM only (naive)", GREY),
        ("classical", "gold only (classical)", ORANGE),
        ("ppi", "PPI (LLM + gold)", BLUE),
    )
    for offset, (kind, label, colour) in zip((-0.22, 0.0, 0.22), kinds, strict=True):
        y = np.arange(len(codes)) + offset
        point = np.array([shares[c][kind]["estimate"] for c in codes])
        low = np.array([shares[c][kind]["ci95"][0] for c in codes])
        high = np.array([shares[c][kind]["ci95"][1] for c in codes])
        ax.errorbar(
            point,
            y,
            xerr=[point - low, high - point],
            fmt="o",
            color=colour,
            markersize=4,
            capsize=2.5,
            linewidth=1.4,
            label=label,
        )
    ax.set_yticks(range(len(codes)), codes)
    ax.invert_yaxis()
    ax.set_xlabel("share of items (95% CI)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0%}"))
    ax.set_xlim(left=0)
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8)
    _tidy(ax)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    return fig


def figure_bytes(fig: Figure, fmt: str = "svg") -> bytes:
    """Render a figure as SVG or PNG bytes (no timestamp in SVG, so output is reproducible)."""
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context(_RC):
        fig.savefig(buffer, format=fmt, dpi=150, metadata=metadata)
    return buffer.getvalue()


def _boxes(ax: Axes, groups: dict[str, pd.DataFrame], title: str) -> None:
    names = list(groups)
    if not names:  # e.g. a run in which no item was coded yet: an empty panel that says so
        ax.text(0.5, 0.5, "no coded items", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title, fontsize=10, loc="left")
        return
    closed = [g.loc[~g["open"], "days"].clip(lower=0.01).to_numpy() for g in groups.values()]
    ax.boxplot(
        [c if len(c) else [np.nan] for c in closed],
        positions=range(1, len(names) + 1),
        widths=0.55,
        showfliers=False,
        medianprops={"color": ORANGE, "linewidth": 1.6},
        boxprops={"color": GREY},
        whiskerprops={"color": GREY},
        capprops={"color": GREY},
    )
    rng = np.random.default_rng(0)
    for position, (values, group) in enumerate(zip(closed, groups.values(), strict=True), 1):
        jitter = rng.uniform(-0.12, 0.12, len(values))
        ax.scatter(position + jitter, values, s=10, color=BLUE, alpha=0.7, zorder=3)
        still_open = group.loc[group["open"], "days"].clip(lower=0.01)
        if len(still_open):
            ax.scatter(
                position + rng.uniform(-0.12, 0.12, len(still_open)),
                still_open,
                s=22,
                marker="^",
                facecolors="none",
                edgecolors=ORANGE,
                zorder=3,
            )
    labels = [
        f"{name}\nn={len(c)}" + (f", {int(g['open'].sum())} open" if g["open"].any() else "")
        for name, c, g in zip(names, closed, groups.values(), strict=True)
    ]
    ax.set_xticks(range(1, len(names) + 1), labels, fontsize=8)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 3.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("days to close (log scale)")
    ax.set_title(title, fontsize=10, loc="left")
    _tidy(ax)


def _tidy(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x" if ax.get_xlabel() == "items" else "y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
