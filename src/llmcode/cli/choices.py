"""The value sets of the command line's choice options, as enums.

Typer lists an enum's values in ``--help`` and refuses any other value as a usage error (exit 2,
with the valid values), so a command declares ``scale: Scale`` instead of checking a string by
hand. Each enum mirrors a vocabulary the library owns (a test keeps them equal); the command
passes ``choice.value`` on, and the library checks the value again for notebook callers.
"""

from __future__ import annotations

from enum import StrEnum


class Scale(StrEnum):
    """The scale of the codes (``llmcode.quality.agreement.ratings.Level``)."""

    nominal = "nominal"
    ordinal = "ordinal"
    interval = "interval"


class Unit(StrEnum):
    """What agreement compares (``llmcode.quality.agreement.inputs.UNITS``)."""

    item = "item"
    segment = "segment"


class Hierarchy(StrEnum):
    """How a hierarchical codebook is asked (``llmcode.store.config.Hierarchy``)."""

    flat = "flat"
    top_down = "top-down"


class ConfidenceSource(StrEnum):
    """Where a run's confidence comes from (``llmcode.quality.calibration.SOURCES``)."""

    auto = "auto"
    vote = "vote"
    logprob = "logprob"
    stated = "stated"


class ReportFormat(StrEnum):
    """The file a report is written as (``llmcode.analysis.rendering.REPORT_FORMATS``)."""

    html = "html"
    md = "md"


class ExportFormat(StrEnum):
    """The file a run's codes are exported as (``llmcode.store.export.TABLE_FORMATS``, and a
    REFI-QDA project)."""

    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"
    qdpx = "qdpx"


class Split(StrEnum):
    """A part of a gold sample's dev/test split (``llmcode.quality.gold.SPLITS``)."""

    dev = "dev"
    test = "test"


class ReviewQueue(StrEnum):
    """What to review first (``llmcode.review.queues.QUEUES``; importing that is slow)."""

    all = "all"
    low_confidence = "low-confidence"
    disagreement = "disagreement"
    unverified = "unverified"
    errors = "errors"
    audit = "audit"
    uncertain = "uncertain"
    disputed = "disputed"


class CodeLevel(StrEnum):
    """Code top-level categories or leaves (``llmcode.taxonomy.model.Level``)."""

    top = "top"
    leaves = "leaves"


class BackendKind(StrEnum):
    """Which backend talks to the model."""

    openai = "openai"
    local = "local"


class EvidenceMode(StrEnum):
    """How the model gives evidence (``RunConfig.evidence``)."""

    free = "free"
    choice = "choice"


class AltMetric(StrEnum):
    """The alternative annotator test's alignment score (``llmcode.quality.alttest.AltTestMetric``)."""

    accuracy = "accuracy"
    neg_rmse = "neg_rmse"


class Vectors(StrEnum):
    """How texts become vectors (``llmcode.llm.vectors.NAMES``; ``embedding`` means ``gguf``)."""

    tfidf = "tfidf"
    gguf = "gguf"
    sentence_transformers = "sentence-transformers"
    embedding = "embedding"


class CodebookFormat(StrEnum):
    """The file a taxonomy is exported as (a REFI-QDA codebook)."""

    qdc = "qdc"


class IssueState(StrEnum):
    """Which GitHub issues to import (``llmcode.interchange.github.STATES``)."""

    open = "open"
    closed = "closed"
    all = "all"


class SampleStrategy(StrEnum):
    """How a gold sample is drawn (``llmcode.quality.active_sample.STRATEGIES``)."""

    uniform = "uniform"
    uncertainty = "uncertainty"


class VerifyChoice(StrEnum):
    """What the second look does with a rejected code (``--verify [drop]``)."""

    flag = "flag"
    drop = "drop"


class TieBreaker(StrEnum):
    """Who resolves disagreements without the TUI (``llmcode.coding.tiebreak.TIE_BREAKERS``)."""

    model = "model"


class Engine(StrEnum):
    """What sends a prepared batch (``llmcode.coding.rayrun``)."""

    ray = "ray"
