"""Issue 25 #24 and #25 (hostile input, round 3): empty names, bad option values, messages."""

from __future__ import annotations

import pytest

from llmcode.errors import SettingsError
from llmcode.store.config import make_config
from tests.support import DATA

# 24. --model '' was accepted.


@pytest.mark.parametrize(
    "command",
    [
        ["code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv"],
        ["open-code", "-i", DATA / "items.csv"],
        ["batch", "prepare", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv"],
    ],
)
def test_an_empty_model_is_a_usage_error(cli, tmp_path, command):
    result = cli(*command, "--model", "", "--runs-dir", tmp_path, env={"OPENAI_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert "--model" in result.output and "empty" in result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "settings", [{"model": ""}, {"model": "  "}, {"base_url": ""}, {"more_models": ("a", "")}]
)
def test_an_empty_model_or_base_url_in_the_library_is_a_settings_error(settings):
    with pytest.raises(SettingsError, match="empty"):
        make_config(taxonomy_path="t.yaml", items_path="i.csv", **settings)
