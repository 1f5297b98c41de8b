"""Options shared by several commands (typer ``Annotated`` types), and what they build.

A command declares ``model: Model = None`` instead of repeating the option; the defaults stay in
each command's signature (they differ: open coding answers are shorter than closed ones).
Options carry the help section they are listed under (``rich_help_panel``; see `cli.sections`).
``backend_from_options`` makes the backend the options (or a run's config) ask for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcode.cli.choices import (
    AltMetric,
    BackendKind,
    CodeLevel,
    EvidenceMode,
    Hierarchy,
    Unit,
    Vectors,
    VerifyChoice,
)

if TYPE_CHECKING:  # imported where used: `llmcode --help` stays light
    from llmcode.llm.backends import Backend
    from llmcode.store.config import RunConfig

RunsDir = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir",
        envvar="LLMCODE_RUNS_DIR",
        help="Where runs live [default: ./runs].",
        rich_help_panel="Output",
    ),
]
RunRef = Annotated[str, typer.Argument(help="Run id (in the runs dir) or a run directory.")]

# what to code
TaxonomyFile = Annotated[
    Path | None, typer.Option("--taxonomy", "-t", help="Taxonomy YAML.", rich_help_panel="Inputs")
]
ItemsFile = Annotated[
    Path | None,
    typer.Option(
        "--items", "-i", help="Items: CSV, JSONL, XLSX or Parquet.", rich_help_panel="Inputs"
    ),
]
IdColumn = Annotated[
    str, typer.Option("--id-column", help="Column with item ids.", rich_help_panel="Inputs")
]
TextColumns = Annotated[
    list[str] | None,
    typer.Option(
        "--text-column",
        help="Text column(s), repeatable [default: text, or title + body].",
        rich_help_panel="Inputs",
    ),
]
Sheet = Annotated[
    str | None,
    typer.Option(
        "--sheet",
        help="Sheet of an .xlsx items file [default: the first].",
        rich_help_panel="Inputs",
    ),
]
Limit = Annotated[
    int | None,
    typer.Option("--limit", min=1, help="Code only the first N items.", rich_help_panel="Inputs"),
]
CodeUnit = Annotated[
    Unit,
    typer.Option(
        "--unit",
        help="item: codes for each whole item; segment: passages of each document, each with "
        "its codes, located to character offsets (long documents read in windows).",
        rich_help_panel="Inputs",
    ),
]
CodeHierarchy = Annotated[
    Hierarchy,
    typer.Option(
        "--hierarchy",
        help="With --level leaves: flat asks every code in one request; top-down asks the "
        "top-level categories first, then only the chosen categories' codes (two requests per "
        "item or window, a much shorter prompt for a big codebook).",
        rich_help_panel="Inputs",
    ),
]
ContextTokens = Annotated[
    int | None,
    typer.Option(
        "--context-tokens",
        min=512,
        help="The model's context length in tokens: --unit segment sizes its windows from it "
        "[default: the embedded model's (LLMCODE_N_CTX); 8192 for an endpoint].",
        show_default=False,
        rich_help_panel="Model and endpoint",
    ),
]


def non_empty(value: str | None) -> str | None:
    """A typer callback refusing an empty value (an unset shell variable) as a usage error."""
    if value is not None and not value.strip():
        raise typer.BadParameter(
            "is empty (an unset shell variable?): give a value or leave it out"
        )
    return value


def none_empty(values: list[str] | None) -> list[str] | None:
    """``non_empty`` for an option that may be repeated."""
    for value in values or []:
        non_empty(value)
    return values


Level = Annotated[
    CodeLevel,
    typer.Option("--level", help="Code top-level categories or leaves.", rich_help_panel="Inputs"),
]
Only = Annotated[
    Path | None,
    typer.Option(
        "--only",
        help="Code only the items whose ids are in this table (item_id column), e.g. a "
        "gold sample from `llmcode sample`.",
        rich_help_panel="Inputs",
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Settings from a TOML file: any option of `code` by its name (e.g. model = "
        '"gpt-4o-mini", samples = 3), flat or in tables; `runs show RUN` prints one. '
        "Options on the command line win.",
        rich_help_panel="Inputs",
    ),
]
Like = Annotated[
    str | None,
    typer.Option(
        "--like",
        help="A new run with the settings of this run; options given here (and in --config) win.",
        rich_help_panel="Inputs",
    ),
]
NewRunId = Annotated[
    str | None, typer.Option("--run-id", help="Name of the new run.", rich_help_panel="Output")
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Resume even though options differ from the run's (the manifest notes it).",
        rich_help_panel="Output",
    ),
]

# which model, and how to ask it
BackendName = Annotated[
    BackendKind | None,
    typer.Option(
        "--backend",
        help="openai or local [default: the run's, else local unless a key or base URL is set].",
        rich_help_panel="Model and endpoint",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Model name (openai) or label (local).",
        callback=non_empty,
        rich_help_panel="Model and endpoint",
    ),
]
Models = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        help="Model name (openai) or label (local); repeat it to draw --samples from several "
        "models in turn.",
        callback=none_empty,
        rich_help_panel="Model and endpoint",
    ),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="OPENAI_BASE_URL",
        help="OpenAI-compatible endpoint.",
        callback=non_empty,
        rich_help_panel="Model and endpoint",
    ),
]
ModelPath = Annotated[
    Path | None,
    typer.Option(
        "--model-path",
        help="GGUF file for the local backend [default: bundled SmolLM2-135M].",
        rich_help_panel="Model and endpoint",
    ),
]
Concurrency = Annotated[
    int,
    typer.Option(
        "--concurrency", min=1, help="Requests in flight.", rich_help_panel="Limits and cost"
    ),
]
Temperature = Annotated[
    float, typer.Option("--temperature", min=0.0, max=2.0, rich_help_panel="Sampling")
]
MaxTokens = Annotated[
    int,
    typer.Option("--max-tokens", min=16, help="Answer token limit.", rich_help_panel="Sampling"),
]
Seed = Annotated[
    int | None, typer.Option("--seed", help="Sampling seed.", rich_help_panel="Sampling")
]
MaxReasks = Annotated[
    int,
    typer.Option(
        "--max-reasks",
        min=0,
        help="Re-asks per item on invalid output.",
        rich_help_panel="Sampling",
    ),
]
Samples = Annotated[
    int,
    typer.Option(
        "--samples",
        min=1,
        help="Codings per item (confidence = vote share).",
        rich_help_panel="Sampling",
    ),
]
Evidence = Annotated[
    EvidenceMode | None,
    typer.Option(
        "--evidence",
        help="free: the model writes quotes; choice: it picks sentences of the item "
        "(constrained, never invented) [default: choice for local, free for openai].",
        rich_help_panel="Sampling",
    ),
]
Rpm = Annotated[
    float | None,
    typer.Option(
        "--rpm", help="Requests per minute the endpoint allows.", rich_help_panel="Limits and cost"
    ),
]
Tpm = Annotated[
    float | None,
    typer.Option(
        "--tpm",
        help="Prompt tokens per minute the endpoint allows.",
        rich_help_panel="Limits and cost",
    ),
]
NoCache = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Do not read or write the response cache.",
        rich_help_panel="Limits and cost",
    ),
]

# what the model sees besides the codebook
ExamplesCodes = Annotated[
    Path | None,
    typer.Option(
        "--examples",
        help="Few-shot examples from your own codes: human codes (item_id, coder, code) or a "
        "reviewed run directory (accepted and changed decisions); K similar ones per item.",
        rich_help_panel="Guidance",
    ),
]
ExamplesItems = Annotated[
    Path | None,
    typer.Option(
        "--examples-items",
        help="Texts of the example items [default: the --items file].",
        rich_help_panel="Guidance",
    ),
]
ExamplesCoder = Annotated[
    str | None,
    typer.Option(
        "--examples-coder", help="Whose codes in --examples to show.", rich_help_panel="Guidance"
    ),
]
ExamplesSimilarity = Annotated[
    Vectors,
    typer.Option(
        "--examples-similarity",
        help="How texts become vectors to find similar examples: tfidf (word overlap; instant), "
        "gguf (sentence embeddings from a local GGUF model through llama.cpp; slower, better on "
        "short texts; 'embedding' is its earlier name) or sentence-transformers (a model "
        "already on disk).",
        rich_help_panel="Guidance",
    ),
]
EmbeddingModel = Annotated[
    Path | None,
    typer.Option(
        "--embedding-model",
        envvar="LLMCODE_EMBEDDING_MODEL",
        help="The model of those vectors: a GGUF file for gguf [default: the bundled SmolLM2], "
        "a sentence-transformers name or path for sentence-transformers.",
        rich_help_panel="Guidance",
    ),
]
Shots = Annotated[
    int,
    typer.Option(
        "--shots",
        min=0,
        max=20,
        help="Retrieved examples per item (--examples).",
        rich_help_panel="Guidance",
    ),
]
Splits = Annotated[
    Path | None,
    typer.Option(
        "--splits",
        help="Split file (item_id, split), e.g. from `llmcode sample`: items of the test split "
        "are never shown as examples.",
        rich_help_panel="Guidance",
    ),
]
PromptsDir = Annotated[
    Path | None,
    typer.Option(
        "--prompts",
        help="Directory of templates that replace the shipped ones of the same name "
        "(`llmcode prompt show` prints the result).",
        rich_help_panel="Guidance",
    ),
]
Verify = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="A second look: check each assigned code in its own short request; a rejected "
        "code is flagged disputed (`--verify drop`: removed, or replaced by the checker's "
        "alternative in single-label taxonomies).",
        rich_help_panel="Guidance",
    ),
]
VerifyMode = Annotated[
    VerifyChoice | None,
    typer.Argument(hidden=True, help="After --verify: flag (default) or drop.", show_default=False),
]


def verify_setting(verify: bool, mode: VerifyChoice | None) -> str:
    """``off``, ``flag`` or ``drop`` from ``--verify [drop]``."""
    if mode is not None and not verify:
        raise typer.BadParameter(f"unexpected argument '{mode}'", param_hint="--verify")
    return "off" if not verify else (mode or VerifyChoice.flag).value


def backend_from_options(
    config: RunConfig | None,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    model_path: Path | None,
) -> Backend:
    """The requested backend, else the one ``config`` (a run's) used, else the default."""
    from llmcode.coding.job import backend_for

    path = str(model_path) if model_path else None
    return backend_for(config, backend, model, base_url, path)


AltQ = Annotated[
    float | None,
    typer.Option(
        "--q",
        help="Alt-test false discovery rate (Benjamini–Yekutieli) [default: 0.05].",
        show_default=False,
    ),
]
AltMetricOption = Annotated[
    AltMetric | None,
    typer.Option(
        "--alt-metric",
        help="Alt-test alignment score [default: accuracy; neg_rmse for numeric codes].",
        show_default=False,
    ),
]
