"""`llmcode prompt show`: the exact messages for one item, examples and overrides included."""

from __future__ import annotations

import json

from tests.support import DATA, ROOT


def test_show_prints_system_and_user_with_the_item_last(cli) -> None:
    result = cli(
        "prompt", "show", "-t", DATA / "tiny.yaml", "--items", DATA / "items.csv", "--item", "i2"
    )
    assert result.exit_code == 0, result.output
    assert "───── system ─────" in result.stdout and "Valid codes: usage" in result.stdout
    assert result.stdout.rstrip().endswith("</item>")
    assert '<item id="i2">' in result.stdout and "CUDA out of memory" in result.stdout


def test_show_includes_the_retrieved_examples_and_context(cli, tmp_path) -> None:
    codes = tmp_path / "codes.csv"
    codes.write_text("item_id,coder,code\ni1,ana,usage\ni2,ana,resources\n", encoding="utf-8")
    tax = tmp_path / "t.yaml"
    tax.write_text((DATA / "tiny.yaml").read_text() + "context: Units are single GitHub issues.\n")
    result = cli(
        "prompt",
        "show",
        "-t",
        tax,
        "--items",
        DATA / "items.csv",
        "--item",
        "i2",
        "--examples",
        codes,
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["examples"] == ["i1"]  # never the item itself
    system, user = (m["content"] for m in data["messages"])
    assert "# Study context\nUnits are single GitHub issues." in system
    assert '<example codes="usage">' in user and "max_length=50" in user


def test_show_with_a_prompts_dir_and_verify(cli, tmp_path) -> None:
    (tmp_path / "verify.user.md").write_text("CHECK {{ category.id }} ON {{ item_id }}")
    result = cli(
        "prompt", "show", "-t", DATA / "tiny.yaml", "--prompts", tmp_path, "--verify", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["check_messages"][1]["content"] == "CHECK usage ON ITEM_ID"
    assert list(data["prompts"]["overrides"]) == ["verify.user.md"]


def test_show_names_a_missing_item(cli) -> None:
    result = cli(
        "prompt", "show", "-t", DATA / "tiny.yaml", "--items", DATA / "items.csv", "--item", "nope"
    )
    assert result.exit_code == 1 and "no item 'nope'" in result.output


def test_the_shipped_taxonomies_render(cli) -> None:
    for taxonomy in (ROOT / "taxonomy").glob("*.yaml"):
        assert cli("prompt", "show", "-t", taxonomy).exit_code == 0


def test_show_checks_its_guidance_options_as_code_does(cli, tmp_path) -> None:
    base = ("prompt", "show", "-t", DATA / "tiny.yaml", "--items", DATA / "items.csv")
    missing = cli(*base, "--examples", DATA / "items.csv", "--embedding-model", tmp_path / "x.gguf")
    assert missing.exit_code == 1 and "--embedding-model" in missing.output
    assert "no such file" in missing.output
    lonely = cli(*base, "--examples-coder", "ana")
    assert lonely.exit_code == 1 and "need --examples CODES" in lonely.output
    gone = cli(*base, "--splits", tmp_path / "splits.csv")
    assert gone.exit_code == 1 and "--splits" in gone.output
