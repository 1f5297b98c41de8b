"""`export --format qdpx --merge-into`: a QDA tool's project, coded by llmcode, exported again
keeps all the tool wrote and adds the model's passages as a new user."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

import llmcode
from llmcode.errors import InterchangeError
from llmcode.interchange.refi import export_project, merge_project, read_project, read_taxonomy
from llmcode.store.runs import Run, load_run_codes
from llmcode.taxonomy.model import dump_taxonomy, load_taxonomy
from llmcode.testserver import ServerConfig, TestServer
from tests.support.qda_project import PROJECT, project_bytes

REFI_DIR = Path(__file__).parents[3] / "shared" / "refi"
P = "{urn:QDA-XML:project:1.0}"
MODEL = "test-model"


def project_xml(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def passages(frame, coder: str | None = None) -> set[tuple[str, str, int, int]]:
    coded = frame.dropna(subset=["code"])
    if coder is not None:
        coded = coded[coded["coder"] == coder]
    return {(r.item_id, r.code, int(r.start), int(r.end)) for r in coded.itertuples()}


def code_run(root: Path, taxonomy: Path, documents: Path, run_id: str) -> Run:
    with pytest.MonkeyPatch.context() as patch, TestServer(ServerConfig()) as server:
        patch.setenv("OPENAI_API_KEY", "sk-test")
        return llmcode.code(
            taxonomy,
            documents,
            base_url=server.base_url,
            model=MODEL,
            unit="segment",
            level="leaves",
            context_tokens=4096,
            runs_dir=root,
            run_id=run_id,
            cache=False,
        )


@pytest.fixture(scope="module")
def flow(tmp_path_factory) -> dict[str, Path | Run]:
    """The README's flow: import the project, code its sources in passages, merge."""
    here = tmp_path_factory.mktemp("flow")
    imported = read_project(PROJECT)
    imported.items.to_csv(here / "documents.csv", index=False)
    imported.codes.to_csv(here / "team.csv", index=False)
    taxonomy, _ = read_taxonomy(PROJECT)
    (here / "codebook.yaml").write_text(dump_taxonomy(taxonomy), encoding="utf-8")
    run = code_run(here / "runs", here / "codebook.yaml", PROJECT, "qda")  # its own sources
    before = PROJECT.read_bytes(), os.stat(PROJECT).st_mtime_ns
    summary = merge_project(run, PROJECT, here / "merged.qdpx")
    assert (PROJECT.read_bytes(), os.stat(PROJECT).st_mtime_ns) == before  # never modified
    return {"dir": here, "run": run, "merged": here / "merged.qdpx", "summary": summary}


def test_the_committed_example_project_is_what_the_generator_writes():
    with zipfile.ZipFile(PROJECT) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert members == project_bytes()  # python -m tests.support.qda_project writes it again


def test_the_merged_project_is_valid_against_the_refi_schema(flow):
    path = REFI_DIR / "Project.xsd"
    if not path.is_file():
        pytest.skip(f"REFI-QDA schema {path} not found")
    schema = etree.XMLSchema(etree.parse(str(path)))
    assert schema.validate(project_xml(flow["merged"])), str(schema.error_log)
    assert schema.validate(project_xml(PROJECT)), str(schema.error_log)


def test_merging_keeps_every_element_the_tool_wrote_and_every_other_member_byte_for_byte(flow):
    merged = project_xml(flow["merged"])
    users = {u.get("name"): u for u in merged.iter(f"{P}User")}
    model = users[MODEL].get("guid")
    added = [users[MODEL]]
    added += [s for s in merged.iter(f"{P}PlainTextSelection") if s.get("creatingUser") == model]
    added += [n for n in merged.iter(f"{P}Note") if n.get("creatingUser") == model]
    assert len(added) == 1 + 2 * flow["summary"].passages
    for element in added:
        element.getparent().remove(element)
    original = project_xml(PROJECT)
    assert etree.tostring(merged, method="c14n") == etree.tostring(original, method="c14n")
    with zipfile.ZipFile(PROJECT) as before, zipfile.ZipFile(flow["merged"]) as after:
        assert before.namelist() == after.namelist()
        for name in before.namelist():
            if name != "project.qde":
                assert before.read(name) == after.read(name), name


def test_the_team_and_the_model_import_from_the_merged_project(flow):
    imported = read_project(flow["merged"])
    team = read_project(PROJECT).codes
    for coder in ("ana", "ben"):
        assert passages(imported.codes, coder) == passages(team, coder)
    assert passages(imported.codes, MODEL) == passages(load_run_codes(flow["run"]))
    assert str(flow["summary"]).startswith(f"added {flow['summary'].passages} passages")
    assert flow["summary"].new_codes == ()  # every code matched, none added


def test_codes_are_matched_by_name_and_a_code_not_in_the_project_is_added_under_its_parent(
    flow, tmp_path
):
    original = load_taxonomy(PROJECT.parent / "ptm-interviews.yaml")  # own ids, same names
    renamed = original.model_copy(deep=True)
    parent = renamed.categories[0]
    parent.children[0].name = "Leaderboards (new)"
    (tmp_path / "renamed.yaml").write_text(dump_taxonomy(renamed), encoding="utf-8")
    run = code_run(tmp_path / "runs", tmp_path / "renamed.yaml", flow["dir"] / "documents.csv", "r")
    summary = merge_project(run, PROJECT, tmp_path / "m.qdpx")
    used = set(load_run_codes(run)["code"].dropna())
    new = parent.children[0].id
    assert new in used  # the test server gives every leaf a passage in five interviews
    assert summary.new_codes == (new,)
    root = project_xml(tmp_path / "m.qdpx")
    parent_code = root.find(f"{P}CodeBook/{P}Codes/{P}Code[@name='{parent.name}']")
    names = [c.get("name") for c in parent_code.findall(f"{P}Code")]
    assert len(root.findall(f".//{P}Code")) == 12 + len(summary.new_codes)
    assert names[-1] == "Leaderboards (new)" and "Benchmarks and task fit" in names
    imported = read_project(tmp_path / "m.qdpx")
    spans = {(i, start, end) for i, _, start, end in passages(imported.codes, MODEL)}
    assert spans == {(i, start, end) for i, _, start, end in passages(load_run_codes(run))}


def test_a_project_is_never_overwritten_nor_merged_into_twice(flow, tmp_path):
    with pytest.raises(InterchangeError, match="would overwrite the project"):
        merge_project(flow["run"], flow["merged"], flow["merged"])
    with pytest.raises(InterchangeError, match=f"already has a user named {MODEL}"):
        merge_project(flow["run"], flow["merged"], tmp_path / "twice.qdpx")
    assert not (tmp_path / "twice.qdpx").exists()


def test_a_run_of_other_documents_is_refused_naming_the_item(flow, tmp_path):
    documents = (flow["dir"] / "documents.csv").read_text(encoding="utf-8")
    (tmp_path / "docs.csv").write_text(
        documents.replace("Honestly, the first", "Frankly, the first"), encoding="utf-8"
    )
    run = code_run(tmp_path / "runs", flow["dir"] / "codebook.yaml", tmp_path / "docs.csv", "o")
    with pytest.raises(InterchangeError, match=r"source 'p1-logistics' is not the text run o"):
        merge_project(run, PROJECT, tmp_path / "m.qdpx")
    (tmp_path / "few.csv").write_text("item_id,text\nelsewhere,Some other text.\n")
    run = code_run(tmp_path / "runs", flow["dir"] / "codebook.yaml", tmp_path / "few.csv", "f")
    with pytest.raises(InterchangeError, match="no text source named 'elsewhere'"):
        merge_project(run, PROJECT, tmp_path / "m.qdpx")


def test_cli_merges_and_refuses_merge_into_without_qdpx(cli, flow, tmp_path):
    run = flow["run"]
    out = tmp_path / "cli.qdpx"
    result = cli("export", run.path, "--format", "qdpx", "--merge-into", PROJECT, "-o", out)
    assert result.exit_code == 0, result.output
    assert "added" in result.output and "kept as they were" in " ".join(result.output.split())
    assert zipfile.ZipFile(out).read("project.qde") == zipfile.ZipFile(flow["merged"]).read(
        "project.qde"
    )
    refused = cli("export", run.path, "--format", "csv", "--merge-into", PROJECT, "-o", out)
    assert refused.exit_code == 1 and "use --format qdpx" in refused.output
    both = cli("export", run.path, "--format", "qdpx", "--merge-into", PROJECT, "--human",
               flow["dir"] / "team.csv", "-o", tmp_path / "x.qdpx")  # fmt: skip
    assert both.exit_code == 1 and "give one of the two" in " ".join(both.output.split())


def test_reviewed_passages_are_exported_and_merged_under_the_reviewer(flow, tmp_path):
    from llmcode.review.passage_session import PassageSession
    from llmcode.store.reviewed_passages import reviewed_passages

    shutil.copytree(flow["run"].path, tmp_path / "qda")
    run = Run(tmp_path / "qda")
    session = PassageSession(run, "ana")
    first = session.current
    session.accept()
    session.reject()
    session.change(["licences_and_legal_questions"])
    text = next(item.text for item in run.items() if item.item_id == "p4-mobile")
    start = text.index("I do not have the data")
    session.add("p4-mobile", start, start + 22, ["trust_in_outputs"])
    reviewed = passages(reviewed_passages(run, include_rejected=False), "ana")
    assert len(reviewed) == 3 and ("p4-mobile", "trust_in_outputs", start, start + 22) in reviewed
    assert (first.item_id, first.codes[0], first.start, first.end) in reviewed

    export_project(run, tmp_path / "p.qdpx", reviewed=True)
    root = project_xml(tmp_path / "p.qdpx")
    assert sorted(u.get("name") for u in root.iter(f"{P}User")) == ["ana", MODEL]
    assert passages(read_project(tmp_path / "p.qdpx").codes, "ana") == reviewed
    notes = [n.findtext(f"{P}PlainTextContent") for n in root.iter(f"{P}Note")]
    assert any("action: change" in n and "suggested: " in n for n in notes)

    summary = merge_project(run, PROJECT, tmp_path / "m.qdpx", reviewed=True)
    assert summary.users == (MODEL, "ana (review)")  # ana the coder in the tool stays apart
    merged = read_project(tmp_path / "m.qdpx").codes
    assert passages(merged, "ana (review)") == reviewed
    assert passages(merged, "ana") == passages(read_project(PROJECT).codes, "ana")


def test_a_source_that_begins_with_blank_lines_gets_the_passages_at_its_own_offsets(tmp_path):
    text = (PROJECT.parent / "transcripts" / "p2-bank.txt").read_text(encoding="utf-8")
    qde = (
        '<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="urn:QDA-XML:project:1.0" '
        'name="p"><Sources><TextSource guid="{D0D0D0D0-0000-4000-8000-000000000001}" '
        'name="p2-bank" plainTextPath="internal://s.txt"/></Sources></Project>'
    )
    with zipfile.ZipFile(tmp_path / "blank.qdpx", "w") as archive:
        archive.writestr("project.qde", qde)
        archive.writestr("sources/s.txt", ("\n\n" + text).encode())
    imported = read_project(tmp_path / "blank.qdpx")
    assert "begins with 2 blank characters" in imported.warnings[0]
    imported.items.to_csv(tmp_path / "documents.csv", index=False)  # read back stripped
    taxonomy = PROJECT.parent / "ptm-interviews.yaml"
    run = code_run(tmp_path / "runs", taxonomy, tmp_path / "documents.csv", "b")
    assert run.items()[0].text == text.strip()
    summary = merge_project(run, tmp_path / "blank.qdpx", tmp_path / "m.qdpx")
    assert summary.passages > 0 and len(summary.new_codes) > 0  # the project had no codebook
    merged = read_project(tmp_path / "m.qdpx")
    shifted = {(i, c, s + 2, e + 2) for i, c, s, e in passages(load_run_codes(run))}
    assert passages(merged.codes, MODEL) == shifted
    source = merged.items["text"][0]
    for row in merged.codes.itertuples():
        assert row.evidence == source[row.start : row.end] != ""
    if (REFI_DIR / "Project.xsd").is_file():  # the codebook, users and notes made where they go
        schema = etree.XMLSchema(etree.parse(str(REFI_DIR / "Project.xsd")))
        assert schema.validate(project_xml(tmp_path / "m.qdpx")), str(schema.error_log)


def test_the_example_projects_passages_are_the_examples_codes():
    from llmcode.interchange.refi.codebook import slug

    codes = pd.read_csv(PROJECT.parent / "codes.csv")
    taxonomy = load_taxonomy(PROJECT.parent / "ptm-interviews.yaml")
    named = {c.id: slug(c.name) for c in taxonomy.walk()}
    expected = {(r.item_id, r.coder, named[r.code], r.start, r.end) for r in codes.itertuples()}
    imported = read_project(PROJECT).codes
    assert {tuple(r) for r in imported[["item_id", "coder", "code", "start", "end"]].values} == (
        expected
    )
    assert len(expected) == 96


def test_the_teams_imported_passages_are_examples_for_coding_whole_documents(cli, flow, tmp_path):
    here = flow["dir"]
    with TestServer(ServerConfig()) as server:
        result = cli(
            "code", "-t", here / "codebook.yaml", "-i", here / "documents.csv", "--level",
            "leaves", "--examples", here / "team.csv", "--examples-items", here / "documents.csv",
            "--examples-coder", "ana", "--base-url", server.base_url, "--model", MODEL,
            "--runs-dir", tmp_path, "--run-id", "ex", "--no-cache", env={"OPENAI_API_KEY": "k"},
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = Run(tmp_path / "ex").latest_codings()
    assert len(records) == 5
    for item_id, record in records.items():  # shots from ana's other documents, never itself
        assert record.examples and item_id not in record.examples
