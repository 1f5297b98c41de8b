"""The sandbox every prompt template renders in, shipped or from ``--prompts DIR``.

A template shared by a colleague is code: unsandboxed, ``{{ cycler.__init__.__globals__ }}``
reaches ``os`` and what it reads is sent to the endpoint. Templates therefore render in Jinja's
immutable sandbox with a stricter rule for attributes: a template reads the *fields* of the
values llmcode passes (pydantic fields, dataclass fields, properties, dict keys, loop state) and
the safe methods of plain strings, numbers, lists and dicts, nothing else: no method of
llmcode's own objects, no path, module, class or function, no name starting with ``_``. The
only globals are ``range``, ``dict`` and ``namespace``. A template that reaches further is
refused with a ``ConfigError`` naming its file and line (``template_error``).

Data is neutralised on the way *in* as well as on the way out (``finalize``): every string a
template reads (a variable, a field, a list element) has its delimiter-like tags defused by
``neutral``, so ``{% for ch in text %}{{ ch }}{% endfor %}`` cannot rebuild ``</item>`` one
character at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from pydantic import BaseModel

from llmcode.errors import ConfigError

_PLAIN = (str, int, float, bool, type(None), list, tuple, dict, LoopContext, Namespace)
_FILENAME = "<prompt template>"


def _fields(obj: Any) -> set[str]:
    """The names a template may read from one of llmcode's objects: fields and properties."""
    kind = type(obj)
    names: set[str] = set()
    if isinstance(obj, BaseModel):
        names |= set(kind.model_fields) | set(kind.model_computed_fields)
    elif dataclasses.is_dataclass(obj):
        names |= {f.name for f in dataclasses.fields(obj)}
    else:
        return names
    names |= {
        name
        for klass in kind.__mro__
        if klass.__module__.startswith("llmcode.")
        for name, member in vars(klass).items()
        if isinstance(member, property)
    }
    return {name for name in names if not name.startswith("_")}


class PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, reading only fields of llmcode's objects (see module doc)."""

    def __init__(self, clean: Callable[[Any], Any]) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, finalize=clean)
        self.clean = clean
        self.globals = {"range": self.globals["range"], "dict": dict, "namespace": Namespace}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        if isinstance(obj, _PLAIN):
            return super().is_safe_attribute(obj, attr, value)
        return attr in _fields(obj) and not callable(value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self._inward(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._inward(super().getitem(obj, argument))

    def _inward(self, value: Any) -> Any:
        """Strings read from data come in neutralised (lists and dicts of them too)."""
        return neutral_deep(value, self.clean)


class Defused(str):
    """A string with its delimiter-like tags defused, remembering the ``original`` (which the
    ``attribute`` filter escapes instead, so ids stay exactly as written)."""

    original: str

    def __new__(cls, text: str, original: str) -> Defused:
        made = super().__new__(cls, text)
        made.original = original
        return made


def _defuse(value: str, clean: Callable[[Any], Any]) -> str:
    if isinstance(value, Defused):
        return value
    cleaned = clean(value)
    return value if cleaned == value else Defused(cleaned, value)


def neutral_deep(value: Any, clean: Callable[[Any], Any]) -> Any:
    """``clean`` applied to a string, or to the strings of a list, tuple or dict (one level
    of nesting per call: nested containers are cleaned when the template reads them)."""
    if isinstance(value, str):
        return _defuse(value, clean)
    if isinstance(value, list | tuple):
        return type(value)(_defuse(v, clean) if isinstance(v, str) else v for v in value)
    if isinstance(value, dict):
        return {k: _defuse(v, clean) if isinstance(v, str) else v for k, v in value.items()}
    return value


def template_line(traceback: TracebackType | None) -> int | None:
    """The template line a rendering error was raised on (Jinja rewrites the traceback)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == _FILENAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def template_error(path: Path, exc: Exception) -> ConfigError:
    """A rendering error as a ``ConfigError`` naming the template file and line."""
    line = template_line(exc.__traceback__)
    where = f"{path}:{line}" if line else str(path)
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return ConfigError(
            f"{where}: template refused: {exc}",
            hint="templates may read only the values llmcode passes (fields, not methods or "
            "internals)",
        )
    detail = str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
    return ConfigError(f"{where}: template failed: {detail}")


def check_template(env: PromptSandbox, source: str, path: Path) -> None:
    """Refuse, before anything is rendered, a template that names an internal (``x.__class__``,
    ``x["_y"]``): the sandbox would refuse it at rendering time, mid-run."""
    for node in env.parse(source).find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            name: Any = node.attr
        else:
            name = _constant(node.arg) if isinstance(node, nodes.Getitem) else None
        if isinstance(name, str) and name.startswith("_"):
            raise ConfigError(
                f"{path}:{node.lineno}: template refused: it reads the internal {name!r}",
                hint="templates may read only the values llmcode passes (fields, not methods or "
                "internals)",
            )


def _constant(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def compile_template(env: PromptSandbox, source: str) -> jinja2.Template:
    """``source`` compiled so that rendering errors can be traced to their template line."""
    code = env.compile(source, filename=_FILENAME)
    return env.template_class.from_code(env, code, env.make_globals(None), None)
