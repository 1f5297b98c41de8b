"""The CLI's terminal: data printed as text, never as markup or terminal control (issue 25,
defects 5 and 18)."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from llmcode.cli.terminal import Console, printable

HOSTILE = st.text(
    alphabet=st.sampled_from([*"[]/\\\"'=:abc x", "\x1b", "\x07", "\x9b", "\u202e", "\n"]),
    max_size=40,
)


def rendered(*renderables, terminal=True):
    out = io.StringIO()
    console = Console(
        file=out, force_terminal=terminal, color_system="truecolor", width=80, highlight=False
    )
    for renderable in renderables:
        console.print(renderable)
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(HOSTILE, HOSTILE)
def test_any_data_prints_through_tables_trees_and_markup_lines_without_a_traceback(a, b):
    table = Table("code", "name")
    table.add_row(a, b)
    tree = Tree(f"[bold]{a}[/]")
    tree.add(b)
    text = rendered(table, tree, f"[green]ok[/] {a}: {b}", f"[bold]{escape(a)}[/] {escape(b)}")
    assert "\x1b" not in re.sub(r"\x1b\[[0-9;]*m", "", text)  # rich's own styles only
    assert "\x07" not in text and "\x9b" not in text and "\u202e" not in text


def test_an_escape_sequence_in_data_is_stripped_and_rich_styles_are_kept():
    text = rendered("[bold]x[/] \x1b]0;owned\x07title \x1b[2Jclear")
    assert "\x1b]0;" not in text and "\x1b[2J" not in text and "\x07" not in text
    assert "\x1b[1m" in text  # [bold] still styles
    assert "]0;ownedtitle" in text and "[2Jclear" in text


def test_text_that_is_not_valid_markup_is_printed_as_written():
    assert rendered("name [/x] here", terminal=False) == "name [/x] here\n"


def test_emoji_codes_in_data_stay_text():
    assert rendered(":thumbs_up: :100:", terminal=False) == ":thumbs_up: :100:\n"


def test_printable_shows_control_characters_as_escapes():
    assert printable("a\x1b[31mb\tc\n\u202ed") == "a\\x1b[31mb\tc\n\\u202ed"
