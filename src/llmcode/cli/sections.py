"""Help in titled sections: a command whose options carry a ``rich_help_panel`` lists them
under those titles (Inputs, Model and endpoint, ...) in plain text, in the order first seen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperCommand

if TYPE_CHECKING:
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter


class SectionedCommand(TyperCommand):
    """A command whose ``--help`` groups its options by section."""

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            title = getattr(param, "rich_help_panel", None) or (
                "Arguments" if param.param_type_name == "argument" else "Other options"
            )
            sections.setdefault(title, []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)
