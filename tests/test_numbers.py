import math

import numpy as np
import pytest

from llmcode.numbers import (
    UNDEFINED,
    format_fixed,
    format_interval,
    format_number,
    format_p,
    format_p_clause,
    format_share,
    format_signed,
    format_significant,
    json_number,
)

FORMATTERS = [
    format_number,
    format_fixed,
    format_signed,
    format_significant,
    format_p,
    format_share,
    lambda v: format_interval(v, 1.0),
    lambda v: format_interval(0.0, v),
]


def test_number_formats_follow_papers():
    assert format_p(0.0004) == "< 0.001"
    assert format_p(0.01234) == "0.012"
    assert format_p_clause(0.0004) == "p < 0.001"
    assert format_p_clause(0.5) == "p = 0.500"
    assert format_fixed(2.0, 3) == "2.000"
    assert format_interval(0.5, 1.0) == "[0.500,\u00a01.000]"  # no-break space
    assert format_number(619.0) == "619"
    assert format_number(0.123456) == "0.123"
    assert format_number(12.3456) == "12.3"
    assert format_signed(0.0123) == "+0.012" and format_signed(-0.3, 2) == "-0.30"
    assert format_significant(12.345) == "12.3" and format_significant(1234.5) == "1234"
    assert format_share(0.4204) == "42.0%"


@pytest.mark.parametrize("undefined", [None, float("nan"), math.inf, -math.inf, np.float64("nan")])
@pytest.mark.parametrize("formatter", FORMATTERS)
def test_every_undefined_value_is_written_with_the_one_glyph(formatter, undefined):
    assert formatter(undefined) == UNDEFINED == "–"


def test_an_undefined_p_value_in_running_text_uses_the_same_glyph():
    assert format_p_clause(None) == f"p = {UNDEFINED}"


def test_json_keeps_full_precision_and_writes_undefined_as_null():
    assert json_number(np.float64(0.123456789)) == 0.123456789
    assert json_number(float("nan")) is None and json_number(None) is None


def test_no_module_writes_its_own_glyph_for_an_undefined_number():
    """Tables and reports take `UNDEFINED` from llmcode.numbers rather than spelling a dash."""
    import re

    from tests.support import ROOT

    own_dash = re.compile(r'"[-–—]" if |return "[-–—]"$', re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src" / "llmcode").rglob("*.py")
        if own_dash.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
