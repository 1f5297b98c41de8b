"""The typer applications every command module registers on, and the one error handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape
from typer.core import TyperArgument, TyperGroup, TyperOption

from llmcode.cli.flags import as_flags
from llmcode.cli.terminal import Console
from llmcode.errors import LlmcodeError, SettingsError
from llmcode.llm.redaction import redact

if TYPE_CHECKING:  # typer vendors click; its Context is what TyperGroup's methods take
    from typer._click.core import Context

err_console = Console(stderr=True, highlight=False)


def _plain_repeats(param_class: type[TyperOption] | type[TyperArgument]) -> None:
    """A repeatable parameter's value reads ``<Path>...`` in help, not ``<list[Path]>``."""
    typer_display_type = param_class.display_type

    def display_type(self: Any, ctx: Context) -> str:
        label = typer_display_type(self, ctx)
        if label.startswith("<list[") and label.endswith("]>"):
            suffix = "" if isinstance(self, TyperArgument) else "..."  # arguments say "name..."
            return f"<{label[6:-2]}>{suffix}"
        return label

    param_class.display_type = display_type  # type: ignore[method-assign]


_plain_repeats(TyperOption)
_plain_repeats(TyperArgument)


ORDER = (
    "sample",
    "code",
    "runs",
    "export",
    "review",
    "adjudicate",
    "agree",
    "eval",
    "analyze",
    "report",
    "audit",
    "calibrate",
    "open-code",
    "themes",
    "recode",
    "taxonomy",
    "import",
    "batch",
)


class LlmcodeGroup(TyperGroup):
    """Top-level group: an LlmcodeError anywhere below is a short red message and exit code 1."""

    def list_commands(self, ctx: Context) -> list[str]:
        """Commands in workflow order (code, inspect, review, measure, report, ...)."""
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(ORDER)))

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:  # a bad value of a setting given by a flag: a usage error
            _fail(as_flags(exc.message), None, code=2)
        except LlmcodeError as exc:  # settings named in backticks are shown as their flags
            _fail(as_flags(exc.message), as_flags(exc.hint) if exc.hint else None)
        except ValidationError as exc:  # settings built from flags: a bad value is a usage error
            _usage_error(exc)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see cli.running)
            err_console.print("[yellow]interrupted[/]", markup=True)
            raise typer.Exit(getattr(exc, "exit_code", 130)) from None
        except OSError as exc:  # a file-system failure no command anticipated: still one line
            where = f"{exc.filename}: " if exc.filename else ""
            cause = exc.strerror or str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):
                cause = "a file stands where a folder is needed"
            _fail(f"{where}{cause}", "check the path and its permissions")
        except UnicodeDecodeError as exc:
            _fail(
                f"a file is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                "save the file as UTF-8",
            )
        except RecursionError:
            _fail("input nested too deeply to process", "flatten the nesting of the input")


def print_next(console: Console, *commands: str) -> None:
    """The ``next:`` hint: one command per line, never wrapped, so each can be copied whole."""
    console.print("next:")
    for command in commands:
        console.print(f"  {command}", soft_wrap=True, markup=False, highlight=False)


def _usage_error(exc: ValidationError) -> NoReturn:
    """Each invalid setting as its flag (``max_cost`` -> ``--max-cost``) and what it must be;
    exit 2, as for any other bad option value."""
    for error in exc.errors():
        setting = str(error["loc"][0]) if error["loc"] else "value"
        flag = "--" + setting.replace("_", "-")
        given = "" if isinstance(error["input"], dict) else f" (got {error['input']!r})"
        message = redact(f"invalid value for {flag}: {error['msg']}{given}") or ""
        err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(2) from None


def _fail(message: str, hint: str | None, code: int = 1) -> NoReturn:
    err_console.print(
        f"[bold red]error:[/] {escape(redact(message) or '')}", markup=True, soft_wrap=True
    )
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(redact(hint) or '')}", markup=True)
    raise typer.Exit(code) from None


app = typer.Typer(
    name="llmcode",
    cls=LlmcodeGroup,
    help="LLM-assisted qualitative coding: code items against a taxonomy with verified evidence, "
    "measure agreement, review, audit and report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: flags shown as flags (no "<bool>"), "[default: …]" in help texts kept as
    # written rather than read as markup; -h is --help everywhere (inherited by subcommands).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


taxonomy_app = typer.Typer(
    help="Check, show, diff, export and import taxonomies.", no_args_is_help=True
)
runs_app = typer.Typer(help="List and inspect runs.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import codes and items from QDA tools and GitHub.", no_args_is_help=True
)
batch_app = typer.Typer(
    help="Provider batch APIs (OpenAI Batch, vLLM run_batch): prepare, submit, status, collect.",
    no_args_is_help=True,
)

app.add_typer(taxonomy_app, name="taxonomy")
app.add_typer(runs_app, name="runs")
app.add_typer(import_app, name="import")
app.add_typer(batch_app, name="batch")


def _print_version(value: bool) -> None:
    if value:
        from llmcode import __version__

        typer.echo(f"llmcode {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """LLM-assisted qualitative coding: code items against a taxonomy with verified evidence,
    measure agreement, review, audit and report."""
