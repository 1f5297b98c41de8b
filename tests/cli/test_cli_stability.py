"""`llmcode stability -t T.yaml -i ITEMS --paraphrases K --sample N` over real HTTP against the
test server: the rewordings are written as taxonomies, every wording codes the same sample, and
the test server (which codes by a hash of the item text, whatever the wording) is stable."""

from __future__ import annotations

import json

from llmcode.taxonomy.model import load_taxonomy
from llmcode.testserver import ServerConfig, TestServer
from tests.support import ROOT

ITEMS = ROOT / "examples" / "ptm-issues.csv"
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"


def test_the_test_server_codes_the_same_under_every_wording(cli, tmp_path) -> None:
    with TestServer(ServerConfig()) as server:
        result = cli(
            *["stability", "-t", TAXONOMY, "-i", ITEMS, "--paraphrases", 2, "--sample", 6],
            *["--base-url", server.base_url, "--out", tmp_path / "out"],
            *["--runs-dir", tmp_path / "runs", "--bootstrap", 50, "--json"],
            env={"OPENAI_API_KEY": "sk-test-stability"},
        )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n_items"] == 6 and out["paraphrases"] == 2 and out["repeats"] == 2
    assert out["within_wording"]["alpha"] == 1.0
    assert out["between_wording"]["alpha"] == 1.0
    assert len(out["runs"]) == 3  # the original and two rewordings
    for wording in out["wordings"]:
        derived = load_taxonomy(wording["path"])
        assert derived.version.endswith(f"+wording-{wording['number']}")
        assert wording["seed"] == wording["number"]
    original = {c.id for c in load_taxonomy(TAXONOMY).categories}
    assert set(out["per_code"]) == original


def test_a_sample_larger_than_the_items_is_exit_1(cli, tmp_path) -> None:
    with TestServer(ServerConfig()) as server:
        result = cli(
            *["stability", "-t", TAXONOMY, "-i", ITEMS, "--sample", 5000],
            *["--base-url", server.base_url, "--out", tmp_path / "out"],
            env={"OPENAI_API_KEY": "sk-test-stability"},
        )
    assert result.exit_code == 1
    assert "5000 items asked" in result.output
