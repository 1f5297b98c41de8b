"""Choice options are enums: a bad value is a usage error (exit 2) listing the valid ones, and
each enum holds exactly the values the library accepts."""

from __future__ import annotations

from typing import get_args, get_type_hints

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.cli.choices import (
    AltMetric,
    BackendKind,
    CodeLevel,
    ConfidenceSource,
    EvidenceMode,
    ExportFormat,
    Hierarchy,
    ReportFormat,
    ReviewQueue,
    SampleStrategy,
    Scale,
    Split,
    TieBreaker,
    Unit,
    Vectors,
    VerifyChoice,
)

BAD_VALUES = [
    (["agree", "a.csv", "--scale", "ratio"], "--scale"),
    (["agree", "a.csv", "--level", "ratio"], "--level"),
    (["agree", "a.csv", "--unit", "sentence"], "--unit"),
    (["code", "-t", "t.yaml", "-i", "i.csv", "--hierarchy", "nested"], "--hierarchy"),
    (["prompt", "show", "-t", "t.yaml", "--hierarchy", "nested"], "--hierarchy"),
    (["eval", "r1", "--gold", "g.csv", "--split", "train"], "--split"),
    (["eval", "r1", "--gold", "g.csv", "--alt-test", "--alt-metric", "kappa"], "--alt-metric"),
    (["sample", "i.csv", "-n", "3", "-o", "g.csv", "--strategy", "random"], "--strategy"),
    (["calibrate", "r1", "--human", "h.csv", "--confidence", "guess"], "--confidence"),
    (["report", "r1", "--format", "pdf"], "--format"),
    (["export", "r1", "--format", "xlsx"], "--format"),
    (["review", "r1", "--queue", "newest"], "--queue"),
    (["adjudicate", "r1", "--human", "h.csv", "--tie-breaker", "coin"], "--tie-breaker"),
    (["code", "--items", "i.csv", "--examples-similarity", "word2vec"], "--examples-similarity"),
    (["prompt", "show", "--examples-similarity", "word2vec"], "--examples-similarity"),
    (["themes", "r1", "-o", "t.yaml", "--embedder", "word2vec"], "--embedder"),
    (["taxonomy", "map", "a.yaml", "b.yaml", "--level", "middle"], "--level"),
    (["taxonomy", "export", "t.yaml", "--format", "nvp"], "--format"),
    (["import", "github", "acme/docsum", "-o", "i.csv", "--state", "merged"], "--state"),
]


def _choice_options() -> list[tuple[list[str], str, list[str]]]:
    """Every choice option of the command line: (command path, option, the args it needs)."""
    import typer

    found = []

    def walk(command, path: list[str]) -> None:
        needed = []
        for param in command.params:
            if param.required:
                choices = getattr(param.type_descriptor, "choices", None)
                value = choices[0].value if choices else "x"
                needed += [value] if param.param_type_name == "argument" else [param.opts[0], value]
        for param in command.params:
            if param.param_type_name == "option" and getattr(
                param.type_descriptor, "choices", None
            ):
                found.append((path, param.opts[0], needed))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(get_app()), [])
    return found


CHOICE_OPTIONS = _choice_options()


def test_the_walk_finds_the_choice_options():
    for args, option in BAD_VALUES:
        assert any(
            args[: len(path)] == path and option == found for path, found, _ in CHOICE_OPTIONS
        ), (args, option)


@pytest.mark.parametrize(
    ("path", "option", "needed"),
    CHOICE_OPTIONS,
    ids=[f"{' '.join(p)} {o}" for p, o, _ in CHOICE_OPTIONS],
)
def test_every_choice_option_refuses_a_bad_value_as_a_usage_error(path, option, needed):
    result = CliRunner().invoke(
        get_app(), [*path, *needed, option, "bogus"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2, result.output
    assert "'bogus' is not one of" in " ".join(result.output.split())


@pytest.mark.parametrize(("args", "option"), BAD_VALUES, ids=lambda v: str(v))
def test_a_bad_choice_is_a_usage_error_that_lists_the_valid_values(args, option):
    result = CliRunner().invoke(get_app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"'{args[-1]}' is not one of" in said
    assert option in said


def test_each_enum_holds_the_values_the_library_accepts():
    from llmcode.analysis.rendering import REPORT_FORMATS
    from llmcode.quality.active_sample import STRATEGIES
    from llmcode.quality.agreement.inputs import UNITS
    from llmcode.quality.agreement.ratings import Level
    from llmcode.quality.alttest import AltTestMetric
    from llmcode.quality.calibration import SOURCES
    from llmcode.quality.gold import SPLITS
    from llmcode.review.queues import QUEUES
    from llmcode.store.config import BackendKind as Backends
    from llmcode.store.config import Evidence, VerifyMode
    from llmcode.taxonomy.model import Level as TaxonomyLevel

    assert tuple(Scale) == get_args(Level)
    assert tuple(Unit) == UNITS
    assert tuple(ConfidenceSource) == SOURCES
    assert tuple(ReportFormat) == REPORT_FORMATS
    assert tuple(Split) == tuple(SPLITS)
    assert tuple(AltMetric) == tuple(AltTestMetric)
    assert tuple(SampleStrategy) == STRATEGIES
    assert tuple(ReviewQueue) == tuple(QUEUES)
    assert tuple(CodeLevel) == get_args(TaxonomyLevel)
    assert tuple(EvidenceMode) == get_args(Evidence)
    assert tuple(VerifyChoice) == get_args(VerifyMode)[1:]  # "off" is --verify left out
    from llmcode.coding.tiebreak import TIE_BREAKERS

    assert tuple(TieBreaker) == TIE_BREAKERS
    assert tuple(BackendKind) == get_args(Backends)
    from llmcode.store.export import TABLE_FORMATS

    assert tuple(ExportFormat) == (*TABLE_FORMATS, "qdpx")
    from llmcode.store.config import Hierarchy as Hierarchies

    assert tuple(Hierarchy) == get_args(Hierarchies)


def test_code_and_themes_share_one_vocabulary_for_text_vectors():
    from llmcode.cli.opencode import themes
    from llmcode.cli.options import ExamplesSimilarity
    from llmcode.llm.vectors import NAMES
    from llmcode.store.config import Similarity

    assert tuple(Vectors) == NAMES
    assert set(get_args(Similarity)) == set(NAMES)
    assert get_args(ExamplesSimilarity)[0] is Vectors
    assert get_args(get_type_hints(themes, include_extras=True)["embedder"])[0] is Vectors
