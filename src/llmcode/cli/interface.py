"""The command-line interface as data: every command, option, default and env var, for snapshots.

Users' scripts call commands and options by name, so a change that removes or alters one is a
break. ``describe_interface`` walks the typer app and returns a JSON-ready mapping
``{"llmcode code": {"--model": {...}, ...}, ...}`` that a test compares with a stored snapshot.
"""

from __future__ import annotations

from typing import Any

import typer


def _param_facts(param: Any) -> dict[str, Any]:
    default = param.default
    if callable(default) or (
        default is not None and not isinstance(default, str | int | float | bool | list | tuple)
    ):
        default = repr(default)
    if isinstance(default, tuple):
        default = list(default)
    envvar = param.envvar
    return {
        "kind": param.param_type_name,
        "default": default,
        "envvar": list(envvar) if isinstance(envvar, list | tuple) else envvar,
        "is_flag": bool(getattr(param, "is_flag", False)),
        "multiple": bool(getattr(param, "multiple", False)),
        "required": bool(param.required),
    }


def _walk(command: Any, path: str, out: dict[str, dict[str, Any]]) -> None:
    params: dict[str, Any] = {}
    for param in command.params:
        if param.name == "help":
            continue
        names = (
            [f"<{param.name}>"]
            if param.param_type_name == "argument"
            else [*param.opts, *param.secondary_opts]
        )
        for name in names:
            params[name] = _param_facts(param)
    out[path] = params
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            _walk(sub, f"{path} {name}", out)


def describe_interface(app: typer.Typer) -> dict[str, dict[str, Any]]:
    """Every command path of ``app`` with its parameters (by option string) and their facts."""
    out: dict[str, dict[str, Any]] = {}
    _walk(typer.main.get_command(app), "llmcode", out)
    return out
