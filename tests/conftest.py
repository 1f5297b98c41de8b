"""Shared fixtures: test data paths and an in-process CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from tests.support import DATA


@pytest.fixture
def tiny_taxonomy() -> Path:
    return DATA / "tiny.yaml"


@pytest.fixture
def items_csv() -> Path:
    return DATA / "items.csv"


@pytest.fixture
def cli():
    """Invoke the llmcode CLI in-process; returns the click Result."""
    runner = CliRunner()

    def invoke(*args: object, env: dict[str, str] | None = None):
        return runner.invoke(get_app(), [str(a) for a in args], env=env)

    return invoke
