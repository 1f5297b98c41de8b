"""`taxonomy diff`: added, removed, renamed and redefined categories, as rich text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.taxonomy.diff import diff_taxonomies
from llmcode.taxonomy.model import Taxonomy, load_taxonomy

DATA = Path(__file__).parents[1] / "data"
runner = CliRunner()


def edited(change) -> Taxonomy:
    data = yaml.safe_load((DATA / "tiny.yaml").read_text())
    change(data)
    return Taxonomy.model_validate(data)


def test_identical_taxonomies_have_no_differences() -> None:
    tiny = load_taxonomy(DATA / "tiny.yaml")
    result = diff_taxonomies(tiny, tiny)
    assert result.empty
    assert sorted(result.unchanged) == ["inaccurate", "performance", "resources", "slow", "usage"]


def test_a_new_id_is_added_and_a_missing_one_removed() -> None:
    def change(data: dict) -> None:
        data["categories"].pop(2)  # resources
        data["categories"].append({"id": "docs", "name": "Docs", "definition": "Documentation."})

    result = diff_taxonomies(load_taxonomy(DATA / "tiny.yaml"), edited(change))
    assert [r.id for r in result.added] == ["docs"]
    assert [r.id for r in result.removed] == ["resources"]
    assert not result.renamed


def test_a_new_name_for_the_same_id_is_a_rename() -> None:
    result = diff_taxonomies(
        load_taxonomy(DATA / "tiny.yaml"),
        edited(lambda d: d["categories"][0].update(name="API usage")),
    )
    assert [(r.old_id, r.new_id, r.new_name) for r in result.renamed] == [
        ("usage", "usage", "API usage")
    ]
    assert not result.redefined


def test_a_new_id_with_the_same_definition_is_a_rename_not_add_and_remove() -> None:
    result = diff_taxonomies(
        load_taxonomy(DATA / "tiny.yaml"),
        edited(lambda d: d["categories"][2].update(id="hardware")),
    )
    assert [(r.old_id, r.new_id) for r in result.renamed] == [("resources", "hardware")]
    assert not result.added and not result.removed
    assert result.id_map()["resources"] == "hardware"


def test_changed_definition_criteria_and_children_are_redefinitions() -> None:
    def change(data: dict) -> None:
        data["categories"][0]["definition"] = "Only questions about generate()."
        data["categories"][0]["exclude"] = []
        data["categories"][1]["children"].pop()

    result = diff_taxonomies(load_taxonomy(DATA / "tiny.yaml"), edited(change))
    fields = {r.id: r.fields for r in result.redefined}
    assert fields == {"usage": ["definition", "exclude"], "performance": ["children"]}
    assert [r.id for r in result.removed] == ["inaccurate"]


def test_whitespace_only_edits_are_not_redefinitions() -> None:
    result = diff_taxonomies(
        load_taxonomy(DATA / "tiny.yaml"),
        edited(
            lambda d: d["categories"][0].update(definition="How to call or\n configure the model.")
        ),
    )
    assert result.empty


def test_diff_command_prints_json_with_the_promised_keys(tmp_path: Path) -> None:
    def change(data: dict) -> None:
        data["version"] = "0.2"
        data["categories"].append({"id": "docs", "name": "Docs", "definition": "D."})

    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(edited(change).model_dump()))
    result = runner.invoke(
        get_app(), ["taxonomy", "diff", str(DATA / "tiny.yaml"), str(new), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"added", "removed", "renamed", "redefined", "unchanged"} <= set(data)
    assert data["added"] == [{"id": "docs", "name": "Docs"}]
    assert data["new"]["version"] == "0.2"


def test_diff_command_prints_a_readable_summary(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    changed = edited(lambda d: d["categories"][0].update(name="API usage", definition="New."))
    new.write_text(yaml.safe_dump(changed.model_dump()))
    result = runner.invoke(
        get_app(), ["taxonomy", "diff", str(DATA / "tiny.yaml"), str(new)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "~ renamed   usage (Model Usage) -> usage (API usage)" in result.output
    assert "* redefined usage: definition" in result.output


def test_diff_command_names_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\ncategories: []\n")
    result = runner.invoke(get_app(), ["taxonomy", "diff", str(DATA / "tiny.yaml"), str(bad)])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output
