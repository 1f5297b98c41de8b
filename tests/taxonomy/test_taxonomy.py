from pathlib import Path

import pytest

from llmcode.errors import TaxonomyError
from llmcode.taxonomy.model import dump_taxonomy, load_taxonomy, parse_taxonomy
from tests.support import ROOT

VALID = """\
name: t
version: 1
categories:
  - id: usage
    name: Usage
    definition: How to call it.
  - id: perf
    name: Performance
    definition: Slow or wrong.
    children:
      - id: slow
        name: Slow
        definition: Too slow.
"""


def test_a_valid_taxonomy_loads_with_its_tree(tiny_taxonomy):
    taxonomy = load_taxonomy(tiny_taxonomy)
    assert [c.id for c in taxonomy.targets("top")] == ["usage", "performance", "resources"]
    assert [c.id for c in taxonomy.targets("leaves")] == [
        "usage",
        "slow",
        "inaccurate",
        "resources",
    ]
    assert taxonomy.parent_of("slow").id == "performance"
    assert taxonomy.get("inaccurate").name == "Accuracy drop"


def test_a_numeric_version_is_read_as_text():
    assert parse_taxonomy(VALID).version == "1"


def test_duplicate_id_names_file_line_and_field():
    text = VALID.replace("id: slow", "id: usage")
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(text, source="taxonomy/x.yaml")
    assert "taxonomy/x.yaml:11 categories[1].children[0].id: duplicate id 'usage'" in str(err.value)


def test_missing_definition_names_the_line_of_the_category():
    text = VALID.replace("    definition: Slow or wrong.\n", "")
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(text, source="t.yaml")
    assert "t.yaml:7 categories[1].definition: Field required" in str(err.value)


def test_a_bad_id_and_an_unknown_field_are_both_reported():
    text = VALID.replace("id: perf", "id: Perf Issues").replace(
        "name: Usage", "name: Usage\n    colour: red"
    )
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(text, source="t.yaml")
    message = str(err.value)
    assert "categories[1].id" in message and "pattern" in message
    assert "t.yaml:6 categories[0].colour: Extra inputs are not permitted" in message


def test_the_reserved_none_id_is_refused():
    with pytest.raises(TaxonomyError, match="reserved"):
        parse_taxonomy(VALID.replace("id: perf", "id: none"))


def test_broken_yaml_names_the_line():
    with pytest.raises(TaxonomyError, match=r"t.yaml:4: not valid YAML"):
        parse_taxonomy("name: t\nversion: 1\ncategories: [\n  - a: b\n", source="t.yaml")


def test_a_missing_file_is_a_taxonomy_error(tmp_path):
    with pytest.raises(TaxonomyError, match="no such taxonomy file"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_dumped_taxonomy_loads_back_identically(tiny_taxonomy):
    taxonomy = load_taxonomy(tiny_taxonomy)
    again = parse_taxonomy(dump_taxonomy(taxonomy, header="made by a test\nline two"))
    assert again == taxonomy
    assert again.fingerprint() == taxonomy.fingerprint()


@pytest.mark.parametrize("name", ["ptm-reuse.yaml", "ptm-screening.yaml"])
def test_the_bundled_taxonomies_are_valid(name):
    taxonomy = load_taxonomy(ROOT / "taxonomy" / name)
    assert len(taxonomy.categories) >= 2


def test_study_taxonomy_has_the_study_categories():
    ids = {c.id for c in load_taxonomy(ROOT / "taxonomy" / "ptm-reuse.yaml").categories}
    assert {"model_usage", "model_performance", "output_quality"} <= ids


def test_cli_check_exits_0_for_valid_and_1_for_invalid(cli, tiny_taxonomy, tmp_path: Path):
    ok = cli("taxonomy", "check", tiny_taxonomy)
    assert ok.exit_code == 0 and "ok" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("id: slow", "id: usage"))
    result = cli("taxonomy", "check", bad)
    assert result.exit_code == 1
    assert "duplicate id 'usage'" in result.output
    assert "Traceback" not in result.output


def test_cli_show_prints_the_tree(cli, tiny_taxonomy):
    result = cli("taxonomy", "show", tiny_taxonomy, "--details")
    assert result.exit_code == 0
    for text in ("tiny", "performance", "slow", "Accuracy drop", "API questions"):
        assert text in result.output


def test_error_messages_keep_square_brackets_verbatim(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("id: perf", "id: Perf Issues"))
    result = cli("taxonomy", "check", bad)
    assert result.exit_code == 1
    assert "^[a-z][a-z0-9_]*$" in result.output


def test_a_taxonomy_nested_300_levels_deep_is_a_clear_error_not_a_recursion_error(tmp_path):
    from llmcode.errors import TaxonomyError
    from llmcode.taxonomy.model import load_taxonomy

    nested = '{"id": "c299", "name": "deepest", "definition": "d"}'
    for level in range(298, -1, -1):
        nested = f'{{"id": "c{level}", "name": "n", "definition": "d", "children": [{nested}]}}'
    path = tmp_path / "deep.yaml"
    path.write_text(f'{{"name": "deep", "version": "1", "categories": [{nested}]}}')
    with pytest.raises(TaxonomyError, match=r"deep.yaml(:\d+)?: .*nested.*levels") as caught:
        load_taxonomy(path)
    assert caught.value.hint


def test_a_taxonomy_deeper_than_the_limit_names_its_depth(tmp_path):
    from llmcode.errors import TaxonomyError
    from llmcode.taxonomy.model import MAX_DEPTH, load_taxonomy

    lines = ["name: deep", "version: '1'", "categories:"]
    for level in range(MAX_DEPTH + 1):
        pad = "  " * (2 * level)
        lines += [
            f"{pad}  - id: c{level}",
            f"{pad}    name: n",
            f"{pad}    definition: d",
            f"{pad}    children:",
        ]
    lines[-1] = lines[-1].replace("children:", "include: []")
    path = tmp_path / "deep.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TaxonomyError, match=f"nested {MAX_DEPTH + 1} levels deep"):
        load_taxonomy(path)


# Hostile YAML: duplicate keys, alias bombs, huge files.


def test_a_duplicate_key_is_an_error_naming_the_line_not_last_wins():
    text = VALID.replace("    name: Usage\n", "    name: Usage\n    name: Other\n")
    with pytest.raises(TaxonomyError, match=r"x\.yaml:6: duplicate key 'name'"):
        parse_taxonomy(text, source="x.yaml")


def test_a_duplicate_top_level_key_is_an_error():
    with pytest.raises(TaxonomyError, match=r"x\.yaml:2: duplicate key 'name'"):
        parse_taxonomy("name: a\nname: b\n" + VALID.split("\n", 1)[1], source="x.yaml")


ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    + "name: t\nversion: 1\ncategories: *i\n"
)


def test_an_alias_bomb_is_refused_quickly_with_the_line():
    with pytest.raises(TaxonomyError, match=r"bomb\.yaml:2: .*alias"):
        parse_taxonomy(ALIAS_BOMB, source="bomb.yaml")


def test_any_alias_is_refused():
    text = VALID.replace("    definition: How to call it.", "    definition: &d How to call it.")
    text = text.replace("    definition: Too slow.", "    definition: *d")
    with pytest.raises(TaxonomyError, match="alias"):
        parse_taxonomy(text, source="x.yaml")


def test_a_taxonomy_file_over_the_size_bound_is_refused_before_parsing(tmp_path, monkeypatch):
    from llmcode.taxonomy import model

    monkeypatch.setattr(model, "MAX_TAXONOMY_BYTES", 100)
    path = tmp_path / "big.yaml"
    path.write_text(VALID + "#" * 200)
    with pytest.raises(TaxonomyError, match=r"big\.yaml: .*larger than"):
        load_taxonomy(path)


def test_flow_style_nesting_is_refused_in_milliseconds(tmp_path):
    """Issue 25, defect 14: an 80 KB taxonomy of ``[[[…]]]`` took 91 s of CPU."""
    import time

    from llmcode.errors import TaxonomyError
    from llmcode.taxonomy.model import load_taxonomy

    for depth in (500, 40_000):
        path = tmp_path / "deep.yaml"
        path.write_text("name: x\nversion: '1'\ncategories: " + "[" * depth + "]" * depth + "\n")
        started = time.process_time()
        with pytest.raises(TaxonomyError, match=r"deep\.yaml:3: .*nest"):
            load_taxonomy(path)
        assert time.process_time() - started < 0.5
