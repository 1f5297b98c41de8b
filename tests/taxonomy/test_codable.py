"""Codes marked not codable (``codable: false``, REFI ``isCodable="false"``) are never assigned."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from llmcode.coding.closed import Coder
from llmcode.coding.job import new_config, prepare
from llmcode.errors import TaxonomyError
from llmcode.interchange.refi.codebook import codebook_xml, read_codebook, write_codebook
from llmcode.items import Item
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.prompts import load_prompts, system_message
from llmcode.store.config import RunConfig
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import dump_taxonomy, load_taxonomy, parse_taxonomy
from tests.support import DATA, answer

TREE = """\
name: tree
version: "1"
multi_label: true
categories:
  - id: costs
    name: Costs
    definition: Money and compute spent.
    codable: false
    children:
      - id: gpu_bills
        name: GPU bills
        definition: What GPU hours cost.
      - id: retired
        name: Retired code
        definition: Kept for older coding; do not use.
        codable: false
  - id: usage
    name: Usage
    definition: How the model is called.
"""
ITEM = Item("x1", "We paid for GPU hours and the bill surprised us. The API was easy.")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    path = tmp_path / "tree.yaml"
    path.write_text(TREE, encoding="utf-8")
    return path


def test_codable_false_is_read_and_leaves_the_code_out_of_the_targets(tree):
    taxonomy = load_taxonomy(tree)
    assert taxonomy.below("leaves") == {"costs": ["gpu_bills"], "retired": []}
    assert taxonomy.get("costs").codable is False and taxonomy.get("gpu_bills").codable
    assert [c.id for c in taxonomy.targets("leaves")] == ["gpu_bills", "usage"]
    assert [c.id for c in taxonomy.shown("leaves")] == ["gpu_bills", "retired", "usage"]
    assert [c.id for c in taxonomy.targets("top")] == ["usage"]


def test_a_codable_that_is_not_a_boolean_names_the_file_line_and_field():
    text = TREE.replace("codable: false\n    children", "codable: sometimes\n    children")
    with pytest.raises(TaxonomyError, match=r"tree.yaml:8 categories\[0\]\.codable"):
        parse_taxonomy(text, source="tree.yaml")


def test_a_taxonomy_without_the_field_keeps_its_fingerprint_and_its_dump(tree):
    tiny = load_taxonomy(DATA / "tiny.yaml")
    assert "codable" not in dump_taxonomy(tiny)
    assert tiny.fingerprint() == "5d4a5ed43d2a66aa"  # as before the field existed
    taxonomy = load_taxonomy(tree)
    dumped = dump_taxonomy(taxonomy)
    assert dumped.count("codable: false") == 2
    assert parse_taxonomy(dumped) == taxonomy
    assert (
        taxonomy.fingerprint()
        != taxonomy.model_copy(
            update={
                "categories": [c.model_copy(update={"codable": True}) for c in taxonomy.categories]
            }
        ).fingerprint()
    )


def test_the_prompt_shows_a_code_not_codable_as_context_and_never_as_a_valid_code(tree):
    taxonomy = load_taxonomy(tree)
    content = system_message(load_prompts(), taxonomy, "leaves")["content"]
    assert "## retired: Retired code (context only: never assign this code)" in content
    assert content.rstrip().endswith("Valid codes: gpu_bills, usage, none")
    top = system_message(load_prompts(), taxonomy, "top")["content"]
    assert "## costs: Costs (context only" in top and "Valid codes: usage, none" in top


def test_an_answer_assigning_a_code_not_codable_is_reasked_then_flagged(tree):
    taxonomy = load_taxonomy(tree)
    config = RunConfig(taxonomy_path=str(tree), items_path="i", level="leaves")
    backend = FakeBackend([answer("retired", "the bill surprised us")] * 3)
    coder = Coder(taxonomy, backend, load_prompts(), config)
    assert "retired" not in json.dumps(coder.schema_for(ITEM))
    record = asyncio.run(coder.code(ITEM))
    assert record.attempts == 3 and record.status == "invalid" and not record.codes
    reask = backend.calls[1].messages[-1]["content"]
    assert "unknown code(s) 'retired'" in reask
    assert "'retired' is a category that is never assigned itself; use another code" in reask
    fixed = FakeBackend([answer("retired", "the bill surprised us"), answer("gpu_bills", "GPU")])
    record = asyncio.run(Coder(taxonomy, fixed, load_prompts(), config).code(ITEM))
    assert record.status == "ok" and [c.code for c in record.codes] == ["gpu_bills"]


def test_a_passage_given_a_code_not_codable_is_reasked_and_the_code_never_kept(tree, tmp_path):
    document = tmp_path / "doc.txt"
    document.write_text(ITEM.text, encoding="utf-8")
    passage = {"passage": "The API was easy.", "justification": "j", "confidence": 0.5}
    backend = FakeBackend(
        [{"passages": [{**passage, "codes": ["costs"]}]}] * 2
        + [{"passages": [{**passage, "codes": ["usage"]}]}]
    )
    config = new_config(tree, document, unit="segment", level="leaves", evidence="free")
    job = prepare(config, store=RunStore(tmp_path / "runs"), backends=[backend], cache=False)
    assert "costs" not in json.dumps(job.coder.schema)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    assert len(backend.calls) == 3 and record.status == "ok"
    reask = backend.calls[1].messages[-1]["content"]
    assert "'costs' is a category that is never assigned itself; use one of its codes: " in reask
    assert reask.rstrip().count("gpu_bills") >= 1 and "retired" not in reask.split("'costs'")[1]
    assert [c.code for s in record.segments for c in s.codes] == ["usage"]


def test_coding_a_level_where_nothing_is_codable_is_refused_with_a_hint(tree, tmp_path):
    text = tree.read_text(encoding="utf-8").replace(
        "definition: How the model is called.",
        "definition: How the model is called.\n    codable: false",
    )
    tree.write_text(text, encoding="utf-8")
    config = new_config(tree, DATA / "items.csv", backend="openai", model="m", level="top")
    with pytest.raises(TaxonomyError, match="no category at level top is codable") as caught:
        prepare(config, store=RunStore(tmp_path), offline=True)
    assert "level` leaves" in (caught.value.hint or "")


def test_refi_is_codable_false_is_read_and_written_back(tree, tmp_path):
    taxonomy = load_taxonomy(tree)
    xml = codebook_xml(taxonomy).decode()
    assert xml.count('isCodable="false"') == 2 and xml.count('isCodable="true"') == 2
    write_codebook(taxonomy, tmp_path / "book.qdc")
    back = read_codebook(tmp_path / "book.qdc").taxonomy
    assert back == taxonomy


def test_a_foreign_codebook_parent_marked_not_codable_is_never_a_target(tmp_path):
    book = tmp_path / "maxqda.qdc"
    book.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
        '<Code guid="A1B2C3D4-0000-0000-0000-000000000001" name="Parent" isCodable="false">'
        "<Description>Never apply this parent.</Description>"
        '<Code guid="A1B2C3D4-0000-0000-0000-000000000002" name="Child" isCodable="true"/>'
        "</Code></Codes></CodeBook>",
        encoding="utf-8",
    )
    taxonomy = read_codebook(book).taxonomy
    assert taxonomy.get("parent").codable is False
    assert [c.id for c in taxonomy.targets("leaves")] == ["child"]


def test_the_review_picker_offers_only_codable_codes(tmp_path):
    from llmcode.coding.lifecycle import start_run
    from llmcode.items import load_items
    from llmcode.review.session import ReviewSession

    taxonomy = load_taxonomy(DATA / "tiny.yaml")
    usage = taxonomy.categories[0].model_copy(update={"codable": False})
    taxonomy = taxonomy.model_copy(update={"categories": [usage, *taxonomy.categories[1:]]})
    config = RunConfig(taxonomy_path="t.yaml", items_path=str(DATA / "items.csv"), backend="fake")
    run = start_run(
        RunStore(tmp_path),
        config,
        load_items(DATA / "items.csv"),
        taxonomy,
        dump_taxonomy(taxonomy),
        load_prompts(),
        FakeBackend(),
    )
    session = ReviewSession(run, "ana", blind=True)
    assert [c.id for c in session.categories] == ["performance", "resources"]
    with pytest.raises(Exception, match="unknown code"):
        session.change(["usage"])
