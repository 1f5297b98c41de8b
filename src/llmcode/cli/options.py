"""Options shared by several commands (typer ``Annotated`` types), and what they build.

A command declares ``model: Model = None`` instead of repeating the option; the defaults stay in
each command's signature (they differ: open coding answers are shorter than closed ones).
``new_run_config`` checks the coding options and freezes them into a ``RunConfig``;
``backend_from_options`` makes the backend the options (or a run's config) ask for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmcode.cli.choices import Vectors
from llmcode.errors import ConfigError

if TYPE_CHECKING:  # imported where used: `llmcode --help` stays light
    from llmcode.items import ItemSet
    from llmcode.llm.backends import Backend
    from llmcode.store.models import RunConfig
    from llmcode.taxonomy.model import Taxonomy

RunsDir = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir", envvar="LLMCODE_RUNS_DIR", help="Where runs live [default: ./runs]."
    ),
]
RunRef = Annotated[str, typer.Argument(help="Run id (in the runs dir) or a run directory.")]

# what to code
TaxonomyFile = Annotated[Path | None, typer.Option("--taxonomy", "-t", help="Taxonomy YAML.")]
ItemsFile = Annotated[
    Path | None, typer.Option("--items", "-i", help="Items: CSV, JSONL, XLSX or Parquet.")
]
IdColumn = Annotated[str, typer.Option("--id-column", help="Column with item ids.")]
TextColumns = Annotated[
    list[str] | None,
    typer.Option(
        "--text-column", help="Text column(s), repeatable [default: text, or title + body]."
    ),
]
Sheet = Annotated[
    str | None,
    typer.Option("--sheet", help="Sheet of an .xlsx items file [default: the first]."),
]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="Code only the first N items.")]


def one_of(*allowed: str) -> Any:
    """A typer callback refusing any other value as a usage error (exit 2)."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise typer.BadParameter(f"'{value}' is not one of {', '.join(allowed)}")
        return value

    return check


def non_empty(value: str | None) -> str | None:
    """A typer callback refusing an empty value (an unset shell variable) as a usage error."""
    if value is not None and not value.strip():
        raise typer.BadParameter(
            "is empty (an unset shell variable?): give a value or leave it out"
        )
    return value


Level = Annotated[
    str,
    typer.Option(
        "--level",
        help="Code top-level categories or leaves: top|leaves.",
        callback=one_of("top", "leaves"),
    ),
]
NewRunId = Annotated[str | None, typer.Option("--run-id", help="Name of the new run.")]
Force = Annotated[
    bool,
    typer.Option(
        "--force", help="Resume even though options differ from the run's (the manifest notes it)."
    ),
]

# which model, and how to ask it
BackendName = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="openai or local [default: the run's, else local unless a key or base URL is set].",
        callback=one_of("openai", "local"),
    ),
]
Model = Annotated[str | None, typer.Option("--model", help="Model name (openai) or label (local).")]
Models = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        help="Model name (openai) or label (local); repeat it to draw --samples from several "
        "models in turn.",
    ),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="OPENAI_BASE_URL",
        help="OpenAI-compatible endpoint.",
        callback=non_empty,
    ),
]
ModelPath = Annotated[
    Path | None,
    typer.Option(
        "--model-path", help="GGUF file for the local backend [default: bundled SmolLM2-135M]."
    ),
]
Concurrency = Annotated[int, typer.Option("--concurrency", min=1, help="Requests in flight.")]
Temperature = Annotated[float, typer.Option("--temperature", min=0.0, max=2.0)]
MaxTokens = Annotated[int, typer.Option("--max-tokens", min=16, help="Answer token limit.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Sampling seed.")]
MaxReasks = Annotated[
    int, typer.Option("--max-reasks", min=0, help="Re-asks per item on invalid output.")
]
Samples = Annotated[
    int, typer.Option("--samples", min=1, help="Codings per item (confidence = vote share).")
]
Evidence = Annotated[
    str | None,
    typer.Option(
        "--evidence",
        help="free: the model writes quotes; choice: it picks sentences of the item "
        "(constrained, never invented) [default: choice for local, free for openai].",
        callback=one_of("free", "choice"),
    ),
]
Rpm = Annotated[
    float | None, typer.Option("--rpm", help="Requests per minute the endpoint allows.")
]
Tpm = Annotated[
    float | None, typer.Option("--tpm", help="Prompt tokens per minute the endpoint allows.")
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Do not read or write the response cache.")
]

# what the model sees besides the codebook
ExamplesCodes = Annotated[
    Path | None,
    typer.Option(
        "--examples",
        help="Few-shot examples from your own codes: human codes (item_id, coder, code) or a "
        "reviewed run directory (accepted and changed decisions); K similar ones per item.",
    ),
]
ExamplesItems = Annotated[
    Path | None,
    typer.Option(
        "--examples-items", help="Texts of the example items [default: the --items file]."
    ),
]
ExamplesCoder = Annotated[
    str | None,
    typer.Option("--examples-coder", help="Whose codes in --examples to show."),
]
ExamplesSimilarity = Annotated[
    Vectors,
    typer.Option(
        "--examples-similarity",
        help="How texts become vectors to find similar examples: tfidf (word overlap; instant), "
        "gguf (sentence embeddings from a local GGUF model through llama.cpp; slower, better on "
        "short texts; 'embedding' is its earlier name) or sentence-transformers (a model "
        "already on disk).",
    ),
]
EmbeddingModel = Annotated[
    Path | None,
    typer.Option(
        "--embedding-model",
        envvar="LLMCODE_EMBEDDING_MODEL",
        help="The model of those vectors: a GGUF file for gguf [default: the bundled SmolLM2], "
        "a sentence-transformers name or path for sentence-transformers.",
    ),
]
Shots = Annotated[
    int, typer.Option("--shots", min=0, max=20, help="Retrieved examples per item (--examples).")
]
Splits = Annotated[
    Path | None,
    typer.Option(
        "--splits",
        help="Split file (item_id, split), e.g. from `llmcode sample`: items of the test split "
        "are never shown as examples.",
    ),
]
PromptsDir = Annotated[
    Path | None,
    typer.Option(
        "--prompts",
        help="Directory of templates that replace the shipped ones of the same name "
        "(`llmcode prompt show` prints the result).",
    ),
]
Verify = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="A second look: check each assigned code in its own short request; a rejected "
        "code is flagged disputed (`--verify drop`: removed, or replaced by the checker's "
        "alternative in single-label taxonomies).",
    ),
]
VerifyMode = Annotated[
    str | None,
    typer.Argument(hidden=True, help="After --verify: flag (default) or drop.", show_default=False),
]


def verify_setting(verify: bool, mode: str | None) -> str:
    """``off``, ``flag`` or ``drop`` from ``--verify [drop]``."""
    if mode is not None and not verify:
        raise typer.BadParameter(f"unexpected argument '{mode}'", param_hint="--verify")
    if mode not in (None, "flag", "drop"):
        raise typer.BadParameter(f"'{mode}': use --verify or --verify drop", param_hint="--verify")
    return "off" if not verify else mode or "flag"


def backend_from_options(
    config: RunConfig | None,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    model_path: Path | None,
) -> Backend:
    """The requested backend, else the one ``config`` (a run's) used, else the default."""
    from llmcode.llm.backends import choose_backend_name, make_backend

    path = str(model_path) if model_path else None
    if config is not None and backend is None:
        return make_backend(
            config.backend,
            model=model or config.model,
            base_url=base_url or config.base_url,
            model_path=path or config.model_path,
        )
    name = choose_backend_name(backend, base_url)
    return make_backend(name, model=model, base_url=base_url, model_path=path)


def new_run_config(
    taxonomy: Path | None,
    items: Path | None,
    *,
    backend: str,
    model: list[str] | None,
    level: str,
    evidence: str | None,
    samples: int,
    id_column: str,
    text_column: list[str] | None,
    **settings: Any,
) -> tuple[Taxonomy, ItemSet, RunConfig]:
    """Check the coding options, load the taxonomy and items, and freeze the run config.

    Several ``--model``s draw the samples in turn (at least one sample per model); evidence
    defaults to ``choice`` for the local backend and ``free`` otherwise.
    """
    from llmcode.items import load_items
    from llmcode.store.models import RunConfig
    from llmcode.taxonomy.model import load_taxonomy

    if taxonomy is None or items is None:
        raise typer.BadParameter(
            "give --taxonomy and --items (or --resume RUN_ID)", param_hint="--taxonomy"
        )
    if level not in ("top", "leaves"):
        raise ConfigError(f"--level must be top or leaves, not '{level}'")
    if evidence not in (None, "free", "choice"):
        raise ConfigError(f"--evidence must be free or choice, not '{evidence}'")
    tax = load_taxonomy(taxonomy)
    item_set = load_items(
        items, id_column=id_column, text_columns=text_column, sheet=settings.pop("sheet", None)
    )
    config = RunConfig(
        taxonomy_path=str(taxonomy),
        items_path=str(items),
        id_column=id_column,
        text_columns=tuple(item_set.text_columns),
        sheet=item_set.sheet,
        backend=backend,
        model=model[0] if model else None,
        more_models=tuple(model[1:]) if model else (),
        level=level,
        samples=max(samples, len(model or [])),
        evidence=evidence or ("choice" if backend == "local" else "free"),
        **settings,
    )
    return tax, item_set, config


Gold = Annotated[
    list[Path] | None,
    typer.Option(
        "--gold",
        help="Gold codes (long format: item_id, coder, code), e.g. blind reviews exported with "
        "`llmcode export RUN --reviewed`; repeat for several files.",
    ),
]
GoldCoder = Annotated[
    list[str] | None,
    typer.Option(
        "--gold-coder", help="Gold coder(s) to use, repeatable (default: every coder in --gold)."
    ),
]
