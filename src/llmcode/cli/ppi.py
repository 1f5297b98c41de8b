"""The PPI part of `llmcode analyze --human` as terminal tables (shares, log days, regressions,
plan)."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from llmcode.cli.terminal import Console
from llmcode.numbers import UNDEFINED, format_fixed, format_p_clause


def print_ppi(console: Console, result: dict[str, Any]) -> None:
    """Shares per code (naive / classical / PPI, effective n), resolution by PPI, the plan."""
    ppi = result["ppi"]
    console.print(
        f"gold: {ppi['gold']}"
        + (f" — coder [bold]{ppi['gold_coder']}[/]" if ppi["gold_coder"] else "")
        + f" | {ppi['n_gold']} gold of {ppi['n_items']} items"
    )
    table = Table(title="share of items per code, 95% CI (PPI: LLM + gold)", title_justify="left")
    table.add_column("code")
    for column in ("naive (LLM)", "classical (gold)", "PPI", "effective n"):
        table.add_column(column, justify="right")
    shares = dict(result["prevalence"])
    if ppi["screening"]:
        shares["ptm (screening)"] = ppi["screening"]["ptm"]
    for code, share in shares.items():
        table.add_row(
            code,
            *(_share(share[k]) for k in ("naive", "classical", "ppi")),
            format_fixed(share["effective_n"], 0),
        )
    console.print(table)
    if ppi["resolution"]:
        _print_resolution(console, ppi["resolution"])
    for regression in ppi.get("regressions", {}).values():
        _print_regression(console, regression)
    plan = ppi["plan"]
    if plan:
        if plan["reachable"]:
            console.print(
                f"plan: widest PPI CI is {plan['widest_ci_width']:.3f} wide; "
                f"{plan['more_gold_items']} more gold item(s) ({plan['n_gold_needed']} in all) "
                f"would bring every CI below {plan['width']}"
            )
        else:
            console.print(
                f"plan: no number of gold items among the {ppi['n_items']} items brings every "
                f"PPI CI below {plan['width']} (widest now {plan['widest_ci_width']:.3f})"
            )


def _print_resolution(console: Console, res: dict[str, Any]) -> None:
    table = Table(
        title="mean log days to close per code (geometric mean days), closed items, 95% CI",
        title_justify="left",
    )
    table.add_column("code")
    for column in ("naive (LLM)", "classical (gold)", "PPI"):
        table.add_column(column, justify="right")
    for code, row in res["mean_log_days"].items():
        table.add_row(code, *(_days(row[k]) for k in ("naive", "classical", "ppi")))
    console.print(table)
    clear = [
        d for d in res["differences"] if d["ci95_adjusted"][0] > 0 or d["ci95_adjusted"][1] < 0
    ]
    if res["differences"]:
        method = res["adjustment"]["method"].capitalize()
        console.print(
            f"pairs whose difference in mean log days has a {method}-adjusted 95% CI excluding "
            f"0 ({len(res['differences'])} pairs compared): {len(clear)}"
        )
    for d in clear:
        low, high = d["ci95_adjusted"]
        console.print(
            f"  {d['a']} − {d['b']}: {d['estimate']:+.2f} log days [{low:+.2f}, {high:+.2f}], "
            f"adjusted {format_p_clause(d['p_adjusted'])} (×{math.exp(d['estimate']):.2g})"
        )
    style = "green" if res["conclusions_agree"] else "yellow"
    console.print(res["agreement"], style=style)


def _print_regression(console: Console, reg: dict[str, Any]) -> None:
    what = (
        "OLS of log days to close"
        if reg["model"] == "ols"
        else f"logistic regression of {reg['outcome']}"
    )
    reference = f", reference code {reg['reference_code']}" if reg["reference_code"] else ""
    table = Table(
        title=f"{what} on the codes{reference}: coefficients, 95% CI "
        f"({reg['n_gold']} gold of {reg['n_items']} items, λ {reg['lambda']:.2f})",
        title_justify="left",
    )
    table.add_column("term")
    for column in ("naive (LLM)", "classical (gold)", "PPI", "effective n"):
        table.add_column(column, justify="right")
    for term, row in reg["coefficients"].items():
        table.add_row(
            term,
            *(_coefficient(row[k]) for k in ("naive", "classical", "ppi")),
            format_fixed(row["effective_n"], 0),
        )
    console.print(table)
    console.print(f"estimand: {reg['estimand']}", style="dim")
    for note in reg["notes"]:
        console.print(f"note: {note}", style="yellow")


def _coefficient(value: dict[str, Any]) -> str:
    low, high = value["ci95"]
    return f"{format_fixed(value['estimate'], 2)} [{format_fixed(low, 2)}, {format_fixed(high, 2)}]"


def _share(value: dict[str, Any]) -> str:
    low, high = value["ci95"]
    return f"{100 * value['estimate']:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def _days(value: dict[str, Any] | None) -> str:
    if value is None:
        return UNDEFINED
    low, high = value["ci95"]
    return f"{value['estimate']:.2f} ({math.exp(value['estimate']):.3g} d) [{low:.2f}, {high:.2f}]"
