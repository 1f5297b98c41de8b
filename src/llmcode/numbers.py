"""How a number is written for a person: one glyph for "undefined", one way to print a p-value.

Every table and report (the HTML/Markdown report, the terminal tables of ``agree``, ``eval``,
``analyze`` and ``ppi``) writes its statistics through these functions, so an undefined value
(None, NaN, ±inf) is always `UNDEFINED` and a p-value is always ``< 0.001`` or three decimals.
JSON is for machines: `json_number` keeps full precision and writes an undefined value as null.
"""

from __future__ import annotations

import math
from typing import Any

UNDEFINED = "–"  # en dash: a statistic that has no value (too few items, no variance, ...)


def is_undefined(value: Any) -> bool:
    """True for None and for a number that is not finite (NaN, ±inf)."""
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def format_number(value: Any, digits: int = 3) -> str:
    """A statistic for a table: whole numbers as integers, below 1 ``digits`` significant
    digits, else ``digits - 2`` decimals (at least one)."""
    if is_undefined(value):
        return UNDEFINED
    number = float(value)
    if number == int(number) and abs(number) < 1e6:
        return f"{int(number)}"
    return f"{number:.{digits}g}" if abs(number) < 1 else f"{number:,.{max(digits - 2, 1)}f}"


def format_fixed(value: Any, decimals: int = 2) -> str:
    """A number with a fixed count of decimals (one column, one precision)."""
    if is_undefined(value):
        return UNDEFINED
    return f"{float(value):,.{decimals}f}"


def format_signed(value: Any, decimals: int = 3) -> str:
    """A difference, always with its sign: ``+0.012``, ``-0.300``."""
    if is_undefined(value):
        return UNDEFINED
    return f"{float(value):+,.{decimals}f}"


def format_significant(value: Any, digits: int = 3) -> str:
    """``digits`` significant digits below 100, whole numbers from 100 on (days, counts)."""
    if is_undefined(value):
        return UNDEFINED
    number = float(value)
    return f"{number:.{digits}g}" if abs(number) < 100 else f"{number:.0f}"


def format_interval(low: Any, high: Any, decimals: int = 3) -> str:
    """A confidence interval as ``[low, high]`` (a no-break space keeps it on one line);
    undefined when either end is."""
    if is_undefined(low) or is_undefined(high):
        return UNDEFINED
    return f"[{format_fixed(low, decimals)},\u00a0{format_fixed(high, decimals)}]"


def format_p(value: Any) -> str:
    """A p-value as papers print it: ``< 0.001`` below that, else 3 decimals."""
    if is_undefined(value):
        return UNDEFINED
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def format_p_clause(value: Any) -> str:
    """``p = 0.012`` or ``p < 0.001`` (``p = –`` when undefined), for running text."""
    text = format_p(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_share(value: Any, decimals: int = 1) -> str:
    """A share as a percentage: ``42.0%``."""
    if is_undefined(value):
        return UNDEFINED
    return f"{100 * float(value):.{decimals}f}%"


def json_number(value: Any) -> float | None:
    """A JSON number at full precision; None (null) when undefined."""
    return None if is_undefined(value) else float(value)
