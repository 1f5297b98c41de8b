"""`taxonomy propose`: none-fit and low-confidence items grouped into new/split/merge/sharpen."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.coding.proposals import (
    bump_version,
    change_list,
    collect_signals,
    propose,
    write_proposal,
)
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment, SuggestedCode
from llmcode.llm.evidence import locate
from llmcode.store.models import CodingRecord, RunConfig, RunManifest, Sample
from llmcode.store.runs import Run
from llmcode.taxonomy.diff import diff_taxonomies
from llmcode.taxonomy.model import load_taxonomy

DATA = Path(__file__).parents[1] / "data"
runner = CliRunner()
TOKENIZER = "Tokenizer and model vocabulary differ."


def none_fit(item_id: str, name: str, definition: str, text: str) -> tuple[CodingRecord, str]:
    code = CodeAssignment(
        code="none", justification="no category fits", evidence=[locate(text, text)]
    )
    suggestion = SuggestedCode(name=name, definition=definition)
    record = CodingRecord(item_id=item_id, status="ok", codes=[code], suggested_code=suggestion)
    return record, text


def coded(
    item_id: str, code: str, confidence: float, text: str, votes: list[str] | None = None
) -> tuple[CodingRecord, str]:
    assignment = CodeAssignment(
        code=code, justification="fits", confidence=confidence, evidence=[locate(text, text)]
    )
    samples = [Sample(codes=[v], status="ok") for v in votes or []]
    return CodingRecord(item_id=item_id, status="ok", codes=[assignment], samples=samples), text


def make_run(root: Path, rows: list[tuple[CodingRecord, str]], run_id: str = "c1") -> Run:
    path = root / run_id
    path.mkdir(parents=True)
    (path / "taxonomy.yaml").write_text((DATA / "tiny.yaml").read_text())
    run = Run(path)
    run.write_manifest(
        RunManifest(
            run_id=run_id,
            config=RunConfig(taxonomy_path=str(DATA / "tiny.yaml"), items_path="items.csv"),
        )
    )
    run.write_items(Item(r.item_id, text) for r, text in rows)
    for record, _ in rows:
        run.append_coding(record)
    return run


ROWS = [
    none_fit("n1", "Tokenizer mismatch", TOKENIZER, "the tokenizer splits words differently"),
    none_fit("n2", "Tokenizer vocabulary mismatch", TOKENIZER, "vocab size 32000 vs 32001"),
    none_fit("n3", "Tokenizer mismatch", TOKENIZER, "tokenizer.json does not match"),
    none_fit("n4", "Docs typo", "A typo in the documentation.", "README says intall"),
    coded("l1", "usage", 0.4, "which argument sets the length", ["usage", "performance"]),
    coded("l2", "performance", 0.3, "is generate slow by design", ["performance", "usage"]),
    coded("l3", "resources", 0.2, "crashes after an hour"),
    coded("l4", "resources", 0.45, "killed by the OOM killer"),
    coded("u1", "usage", 0.9, "how do I pass max_length"),
]


def test_signals_are_none_fit_suggestions_and_low_confidence_codes(tmp_path: Path) -> None:
    signals = collect_signals(make_run(tmp_path, ROWS), low_confidence=0.5)
    assert [s.item_id for s in signals if s.kind == "none_fit"] == ["n1", "n2", "n3", "n4"]
    doubts = {s.item_id: s.alternative for s in signals if s.kind == "low_confidence"}
    assert doubts == {"l1": "performance", "l2": "usage", "l3": None, "l4": None}


def test_similar_suggestions_become_one_new_category_with_their_items(tmp_path: Path) -> None:
    proposal = propose(make_run(tmp_path, ROWS))
    [new] = [e for e in proposal.edits if e.kind == "new"]
    assert new.item_ids == ["n1", "n2", "n3"]
    assert new.targets == ["tokenizer_mismatch"]
    category = proposal.new.get("tokenizer_mismatch")
    assert category.definition == TOKENIZER
    assert category.include == ["Tokenizer vocabulary mismatch"]
    assert [e.text for e in category.examples] == [
        "the tokenizer splits words differently",
        "vocab size 32000 vs 32001",
    ]


def test_a_lone_suggestion_is_listed_as_too_little_support(tmp_path: Path) -> None:
    proposal = propose(make_run(tmp_path, ROWS))
    assert proposal.new.get("docs_typo") is None
    assert any("Docs typo" in entry for entry in proposal.unsupported)


def test_votes_split_between_two_categories_propose_a_merge(tmp_path: Path) -> None:
    proposal = propose(make_run(tmp_path, ROWS))
    [merge] = [e for e in proposal.edits if e.kind == "merge"]
    assert (merge.targets, merge.item_ids) == (["performance", "usage"], ["l1", "l2"])
    assert proposal.new.get("usage") is None
    merged = proposal.new.get("performance")
    assert "Also covers: How to call or configure the model." in merged.definition
    assert "API questions" in merged.include


def test_low_confidence_on_one_category_asks_to_sharpen_it(tmp_path: Path) -> None:
    proposal = propose(make_run(tmp_path, ROWS))
    [sharpen] = [e for e in proposal.edits if e.kind == "sharpen"]
    assert (sharpen.targets, sharpen.item_ids) == (["resources"], ["l3", "l4"])
    examples = [e.text for e in proposal.new.get("resources").examples]
    assert examples == ["crashes after an hour", "killed by the OOM killer"]


def test_suggestions_near_an_existing_category_split_it_when_they_form_two_groups(
    tmp_path: Path,
) -> None:
    rows = [
        none_fit("g1", "GPU memory fragmentation", "GPU memory fragments.", "GPU memory fragments"),
        none_fit(
            "g2", "GPU memory fragmentation", "GPU memory fragments.", "fragmented GPU memory"
        ),
        none_fit(
            "d1", "Disk space limits", "Disk limits for checkpoints.", "no space left on disk"
        ),
        none_fit("d2", "Disk space limits", "Disk limits for checkpoints.", "disk quota exceeded"),
    ]
    proposal = propose(make_run(tmp_path, rows))
    assert [(e.kind, e.targets[0]) for e in proposal.edits] == [("split", "resources")] * 2
    children = [c.id for c in proposal.new.get("resources").children]
    assert children == ["gpu_memory_fragmentation", "disk_space_limits"]


def test_one_group_near_a_category_sharpens_its_criteria(tmp_path: Path) -> None:
    rows = [
        none_fit("g1", "GPU memory fragmentation", "GPU memory fragments.", "GPU memory fragments"),
        none_fit(
            "g2", "GPU memory fragmentation", "GPU memory fragments.", "fragmented GPU memory"
        ),
    ]
    proposal = propose(make_run(tmp_path, rows))
    assert [(e.kind, e.targets) for e in proposal.edits] == [("sharpen", ["resources"])]
    assert (
        "GPU memory fragmentation: GPU memory fragments." in proposal.new.get("resources").include
    )


def test_the_change_list_names_each_edit_its_items_and_evidence(tmp_path: Path) -> None:
    text = change_list(propose(make_run(tmp_path, ROWS)), "new.yaml")
    assert text.startswith("# Proposed changes to tiny 0.1 -> 0.2")
    assert "new: Tokenizer mismatch: 3 items coded none suggested it" in text
    assert "Supporting items (3): n1, n2, n3" in text
    assert '- n2: "vocab size 32000 vs 32001"' in text
    assert "## Too little support (not proposed)" in text


def test_versions_are_bumped_by_one_minor_step() -> None:
    assert [bump_version(v) for v in ("1.0.0", "0.1", "v2")] == ["1.1.0", "0.2", "v2-proposed"]


def test_propose_command_writes_a_new_version_and_a_change_list(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", ROWS)
    out = tmp_path / "tiny-next.yaml"
    result = runner.invoke(
        get_app(),
        ["taxonomy", "propose", "c1", "-o", str(out), "--runs-dir", str(tmp_path / "runs")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "3 proposed edit(s)" in result.output
    changes = tmp_path / "tiny-next.changes.md"
    assert "Supporting items" in changes.read_text()
    new = load_taxonomy(out)
    diff = diff_taxonomies(load_taxonomy(DATA / "tiny.yaml"), new)
    assert [a.id for a in diff.added] == ["tokenizer_mismatch"]
    assert [r.id for r in diff.removed] == ["usage"]


def test_propose_refuses_an_open_coding_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", ROWS)
    run.write_manifest(run.manifest().model_copy(update={"kind": "open"}))
    result = runner.invoke(
        get_app(),
        [
            "taxonomy",
            "propose",
            "c1",
            "-o",
            str(tmp_path / "x.yaml"),
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 1
    assert "is not a closed-coding run (kind open)" in result.output


def test_a_suggestion_named_none_never_becomes_a_category(tmp_path: Path) -> None:
    rows = [
        none_fit(f"x{i}", name, "Nothing fits.", f"text {i}")
        for i, name in enumerate(["none", "None", " NONE.", "n/a"])
    ]
    proposal = propose(make_run(tmp_path, rows))
    assert proposal.edits == []
    assert {c.id for c in proposal.new.walk()} == {c.id for c in proposal.old.walk()}
    assert any("not a category" in entry for entry in proposal.unsupported)


def test_an_empty_proposal_says_no_changes_proposed(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", [coded("u1", "usage", 0.9, "how do I pass max_length")])
    out = tmp_path / "next.yaml"
    result = runner.invoke(
        get_app(),
        ["taxonomy", "propose", "c1", "-o", str(out), "--runs-dir", str(tmp_path / "runs")],
    )
    assert result.exit_code == 0, result.output
    assert "no changes proposed" in result.output
    assert "proposed edit(s)" not in result.output and not out.exists()


def test_a_proposal_is_written_with_its_change_list_beside_it(tmp_path: Path) -> None:
    proposal = propose(make_run(tmp_path / "runs", ROWS))
    changes = write_proposal(proposal, tmp_path / "out" / "next.yaml")
    assert changes == tmp_path / "out" / "next.changes.md"
    text = (tmp_path / "out" / "next.yaml").read_text()
    assert "from run c1" in text and "changes and their evidence: next.changes.md" in text
    assert load_taxonomy(tmp_path / "out" / "next.yaml").version == proposal.new.version
    assert changes.read_text() == change_list(proposal, "next.yaml")
