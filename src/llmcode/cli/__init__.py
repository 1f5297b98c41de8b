"""Command-line shell: parses options, calls the core, displays results.

Each module in this package registers its commands on the apps of `llmcode.cli.app`;
`get_app()` imports them all. Errors are handled once, in `app.LlmcodeGroup`.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from llmcode.cli.app import app


def get_app() -> typer.Typer:
    """Import every command module of this package (so commands register) and return the app."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "app" and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return app


def main() -> None:
    """Console-script entry point (``llmcode --version`` answers before any command loads)."""
    import sys

    if sys.argv[1:] == ["--version"]:
        from llmcode import __version__

        print(f"llmcode {__version__}")
        return
    from llmcode.cli.running import interrupts_raise

    interrupts_raise()
    get_app()()
