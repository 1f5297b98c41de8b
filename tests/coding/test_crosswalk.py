"""`taxonomy map A B`: each category of A mapped to zero or more of B, with a justification."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.coding.crosswalk import Crosswalk, map_taxonomies, write_crosswalk
from llmcode.errors import ConfigError
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend
from llmcode.taxonomy.model import load_taxonomy

DATA = Path(__file__).parents[1] / "data"
ROOT = Path(__file__).parents[2]
runner = CliRunner()
TINY = load_taxonomy(DATA / "tiny.yaml")
PTM = load_taxonomy(ROOT / "taxonomy" / "ptm-reuse.yaml")
BY_SOURCE = {
    "usage": [{"code": "model_usage", "relation": "equivalent", "justification": "Same scope."}],
    "performance": [
        {"code": "model_performance", "relation": "equivalent", "justification": "Speed."},
        {"code": "output_quality", "relation": "overlap", "justification": "Accuracy."},
    ],
    "resources": [],
}


def source_of(request: ChatRequest) -> str:
    return request.messages[-1]["content"].split('<category id="', 1)[1].split('"', 1)[0]


def scripted(request: ChatRequest) -> dict:
    return {"matches": BY_SOURCE[source_of(request)]}


async def test_each_category_of_a_maps_to_zero_or_more_of_b_with_a_justification() -> None:
    result = await map_taxonomies(TINY, PTM, FakeBackend(responder=scripted))
    got = {m.source: [(x.code, x.relation) for x in m.matches] for m in result.mappings}
    assert got == {
        "usage": [("model_usage", "equivalent")],
        "performance": [("model_performance", "equivalent"), ("output_quality", "overlap")],
        "resources": [],
    }
    assert all(m.status == "ok" for m in result.mappings)
    assert result.mappings[0].matches[0].justification == "Same scope."


async def test_codebook_b_is_in_the_system_prompt_and_its_ids_are_an_enum() -> None:
    backend = FakeBackend(responder=scripted)
    await map_taxonomies(TINY, PTM, backend)
    system = backend.calls[0].messages[0]["content"]
    assert "## fine_tuning: Fine-tuning" in system
    enum = backend.calls[0].schema["properties"]["matches"]["items"]["properties"]["code"]["enum"]
    assert enum == [c.id for c in PTM.categories]
    assert len({c.messages[0]["content"] for c in backend.calls}) == 1


async def test_an_unknown_code_is_reasked_then_dropped_and_flagged() -> None:
    bad = {"matches": [{"code": "gpu", "relation": "overlap", "justification": "x"}]}
    backend = FakeBackend([bad, bad, bad], responder=scripted)
    result = await map_taxonomies(TINY, PTM, backend, max_reasks=2)
    first = result.mappings[0]
    assert (first.status, first.matches) == ("unverified", [])
    assert "unknown code(s) of B: gpu" in first.problems[0]
    assert "Use only the valid codes" in backend.calls[1].messages[-1]["content"]


async def test_an_unusable_answer_keeps_the_category_as_invalid() -> None:
    backend = FakeBackend(["no json", "no json", "no json"], responder=scripted)
    result = await map_taxonomies(TINY, PTM, backend)
    assert [m.source for m in result.mappings] == ["usage", "performance", "resources"]
    assert result.mappings[0].status == "invalid"


async def test_matches_carry_a_lexical_similarity_for_the_reviewer() -> None:
    result = await map_taxonomies(TINY, PTM, FakeBackend(responder=scripted))
    usage = result.mappings[0].matches[0].similarity
    overlap = result.mappings[1].matches[1].similarity
    assert 0 < overlap < usage <= 1


async def test_the_crosswalk_table_has_a_row_even_for_unmapped_categories() -> None:
    result = await map_taxonomies(TINY, PTM, FakeBackend(responder=scripted))
    frame = result.frame(PTM)
    assert list(frame["source"]) == ["usage", "performance", "performance", "resources"]
    assert frame.iloc[-1]["target"] == ""
    assert frame.iloc[0]["target_name"] == "Model Usage"


def test_map_command_writes_csv_and_prints_json(tmp_path: Path) -> None:
    out = tmp_path / "map.csv"
    from llmcode.testserver import ServerConfig, TestServer

    with TestServer(ServerConfig(max_seconds=60)) as server:
        result = runner.invoke(
            get_app(),
            [
                "taxonomy",
                "map",
                str(DATA / "tiny.yaml"),
                str(ROOT / "taxonomy" / "ptm-reuse.yaml"),
                "-o",
                str(out),
                "--json",
                "--backend",
                "openai",
                "--base-url",
                server.base_url,
                "--runs-dir",
                str(tmp_path / "runs"),
            ],
            env={"OPENAI_API_KEY": "test"},
        )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["source"] for m in data["mappings"]] == ["usage", "performance", "resources"]
    assert data["b"] == {"name": "ptm-reuse", "version": "1.0.0"}
    frame = pd.read_csv(out)
    assert set(frame["source"]) == {"usage", "performance", "resources"}


def test_map_command_rejects_an_unknown_output_format(tmp_path: Path) -> None:
    tiny = str(DATA / "tiny.yaml")
    result = runner.invoke(
        get_app(), ["taxonomy", "map", tiny, tiny, "-o", str(tmp_path / "m.xlsx")]
    )
    assert result.exit_code == 1
    assert "written as .csv or .json" in result.output


async def test_a_crosswalk_is_written_as_json_or_csv_and_nothing_else(tmp_path: Path) -> None:
    result = await map_taxonomies(TINY, PTM, FakeBackend(responder=scripted))
    write_crosswalk(result, PTM, tmp_path / "map.json")
    assert Crosswalk.model_validate_json((tmp_path / "map.json").read_text()) == result
    write_crosswalk(result, PTM, tmp_path / "map.csv")
    assert len(pd.read_csv(tmp_path / "map.csv")) == len(result.frame(PTM))
    with pytest.raises(ConfigError, match=r"\.csv or \.json"):
        write_crosswalk(result, PTM, tmp_path / "map.xlsx")
    assert not (tmp_path / "map.xlsx").exists()
