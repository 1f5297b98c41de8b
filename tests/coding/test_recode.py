"""`recode`: a new run that re-codes only the items a taxonomy change can affect."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.coding.lifecycle import start_run
from llmcode.coding.recode import plan_recode, run_recode
from llmcode.items import load_items
from llmcode.llm.answers import CodeAssignment, SuggestedCode
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend, item_id, item_text
from llmcode.llm.evidence import locate
from llmcode.llm.prompts import load_prompts
from llmcode.store.models import CodingRecord, RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import Taxonomy, load_taxonomy
from llmcode.testserver import ServerConfig, TestServer

DATA = Path(__file__).parents[1] / "data"
runner = CliRunner()
PREVIOUS = {  # item_id: (code, confidence); the items are tests/data/items.csv
    "i1": ("usage", 0.9),
    "i2": ("resources", 0.9),
    "i3": ("performance", 0.9),
    "i4": ("none", 0.6),
}


def previous_run(root: Path, codes: dict = PREVIOUS) -> Run:
    store = RunStore(root)
    config = RunConfig(taxonomy_path=str(DATA / "tiny.yaml"), items_path=str(DATA / "items.csv"))
    tiny = load_taxonomy(DATA / "tiny.yaml")
    text = (DATA / "tiny.yaml").read_text()
    items = load_items(DATA / "items.csv")
    run = start_run(store, config, items, tiny, text, load_prompts(), FakeBackend(), "before")
    texts = {i.item_id: i.text for i in run.items()}
    for key, (code, confidence) in codes.items():
        span = locate(texts[key].split(".")[0], texts[key])
        suggestion = (
            SuggestedCode(name="Docs", definition="Documentation.") if code == "none" else None
        )
        run.append_coding(
            CodingRecord(
                item_id=key,
                status="ok",
                suggested_code=suggestion,
                codes=[CodeAssignment(code=code, confidence=confidence, evidence=[span])],
            )
        )
    return run


def changed(edit) -> tuple[Taxonomy, str]:
    data = yaml.safe_load((DATA / "tiny.yaml").read_text())
    edit(data)
    text = yaml.safe_dump(data, sort_keys=False)
    return Taxonomy.model_validate(data), text


def redefine_resources(data: dict) -> None:
    data["categories"][2]["definition"] = "Memory, GPU, disk or network limits."


def add_docs(data: dict) -> None:
    data["categories"].append(
        {
            "id": "docs",
            "name": "Documentation",
            "definition": "The README or docs are wrong.",
            "include": ["typos and wrong instructions in the README"],
        }
    )


def answer_by_text(request: ChatRequest) -> dict:
    """resources for memory problems, docs (when offered) for the README typo, else usage."""
    text = item_text(request)
    codes = request.schema["properties"]["codes"]["items"]["properties"]["code"]["enum"]
    code = (
        "resources"
        if "memory" in text
        else ("docs" if "intall" in text and "docs" in codes else "usage")
    )
    quote = text.split(".")[0]
    return {
        "codes": [{"code": code, "justification": "j", "evidence": [quote], "confidence": 0.9}],
        "suggested_code": None,
    }


def test_redefining_one_category_re_codes_its_items_and_none_only(tmp_path: Path) -> None:
    plan = plan_recode(previous_run(tmp_path), changed(redefine_resources)[0])
    assert plan.changed_codes == ["resources"]
    assert plan.recode == {
        "i2": "code changed: 'resources' was removed, renamed or redefined",
        "i4": "coded none: a new or changed category may fit",
    }
    assert plan.reuse == ["i1", "i3"]


def test_adding_a_category_re_codes_its_nearest_neighbours_items(tmp_path: Path) -> None:
    plan = plan_recode(previous_run(tmp_path), changed(add_docs)[0], neighbours=1)
    assert plan.added_codes == ["docs"]
    [near] = plan.neighbour_codes["docs"]
    coded_near = [i for i, (c, _) in PREVIOUS.items() if c == near]
    assert set(plan.recode) == {"i4", *coded_near}
    assert plan_recode(
        previous_run(tmp_path / "b"), changed(add_docs)[0], neighbours=0, neighbour_similarity=1.0
    ).recode.keys() == {"i4"}


def test_low_confidence_items_are_re_coded_when_categories_change(tmp_path: Path) -> None:
    codes = {**PREVIOUS, "i1": ("usage", 0.3)}
    taxonomy = changed(redefine_resources)[0]
    plan = plan_recode(previous_run(tmp_path, codes), taxonomy)
    assert plan.recode["i1"] == "low confidence: 0.30"
    unchanged = load_taxonomy(DATA / "tiny.yaml")
    assert "i1" not in plan_recode(previous_run(tmp_path / "b", codes), unchanged).recode


def test_renaming_an_id_re_codes_its_items_but_does_not_count_as_a_change(tmp_path: Path) -> None:
    def rename(data: dict) -> None:
        data["categories"][2]["id"] = "hardware"

    previous = previous_run(tmp_path)
    taxonomy, text = changed(rename)
    plan = plan_recode(previous, taxonomy)
    assert "i2" in plan.recode

    def renamed_answers(request: ChatRequest) -> dict:
        out = answer_by_text(request)
        out["codes"][0]["code"] = out["codes"][0]["code"].replace("resources", "hardware")
        return out

    config = previous.manifest().config.replace(taxonomy_path="new.yaml")
    import asyncio

    _, changes = asyncio.run(
        run_recode(
            previous,
            plan,
            taxonomy,
            text,
            config,
            RunStore(tmp_path),
            FakeBackend(responder=renamed_answers),
            load_prompts(),
            run_id="after",
        )
    )
    assert [c.item_id for c in changes] == ["i4"], "i2 went resources -> hardware: same meaning"


async def test_the_new_run_reuses_the_rest_and_says_which_items_changed(tmp_path: Path) -> None:
    previous = previous_run(tmp_path)
    taxonomy, text = changed(add_docs)
    plan = plan_recode(previous, taxonomy)
    backend = FakeBackend(responder=answer_by_text)
    config = previous.manifest().config.replace(taxonomy_path="new.yaml")
    run, changes = await run_recode(
        previous,
        plan,
        taxonomy,
        text,
        config,
        RunStore(tmp_path),
        backend,
        load_prompts(),
        run_id="after",
    )
    assert sorted(item_id(call) for call in backend.calls) == sorted(plan.recode)
    before, after = previous.latest_codings(), run.latest_codings()
    assert set(after) == {"i1", "i2", "i3", "i4"}
    for reused in plan.reuse:
        assert after[reused] == before[reused]
    assert [(c.item_id, c.old, c.new) for c in changes] == [("i4", ["none"], ["docs"])]
    extra = run.manifest().extra["recode"]
    assert extra["from_run"] == "before"
    assert set(extra["recoded"]) == set(plan.recode) and extra["reused"] == plan.reuse
    assert extra["changed"] == [{"item_id": "i4", "old": ["none"], "new": ["docs"]}]
    assert run.manifest().status == "complete"


def test_recode_dry_run_prints_the_plan_without_coding(tmp_path: Path) -> None:
    previous_run(tmp_path / "runs")
    new = tmp_path / "new.yaml"
    new.write_text(changed(redefine_resources)[1])
    result = runner.invoke(
        get_app(),
        [
            "recode",
            "before",
            "--taxonomy",
            str(new),
            "--dry-run",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "plan: re-code 2 of 4 item(s), reuse 2" in result.output
    assert "(code changed: 1, coded none: 1)" in result.output
    assert "i4: coded none" in result.output
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_recode_command_makes_a_new_run_over_http(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    previous_run(runs)
    new = tmp_path / "new.yaml"
    new.write_text(changed(redefine_resources)[1])
    with TestServer(ServerConfig(max_seconds=60)) as server:
        result = runner.invoke(
            get_app(),
            [
                "recode",
                "before",
                "--taxonomy",
                str(new),
                "--run-id",
                "after",
                "--backend",
                "openai",
                "--base-url",
                server.base_url,
                "--runs-dir",
                str(runs),
            ],
            env={"COLUMNS": "200", "OPENAI_API_KEY": "test"},
        )
        requests = server.stats.chat_requests
    assert result.exit_code == 0, result.output
    assert requests == 2
    assert "run after: re-coded 2, reused 2" in result.output
    manifest = json.loads((runs / "after" / "manifest.json").read_text())
    assert manifest["extra"]["recode"]["reused"] == ["i1", "i3"]
    assert manifest["config"]["inputs"]["taxonomy_path"] == str(new)
