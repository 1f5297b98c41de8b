"""REFI-QDA: codebooks and projects validated against the standard's schemas, and round trips."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.errors import InterchangeError, TaxonomyError
from llmcode.interchange.refi import (
    code_guid,
    codebook_xml,
    export_project,
    read_codebook,
    read_project,
    read_taxonomy,
    write_codebook,
)
from llmcode.store.runs import load_run_codes
from llmcode.taxonomy.model import dump_taxonomy, load_taxonomy
from tests.support.refi_runs import make_run

HERE = Path(__file__).parents[1]
DATA = HERE / "data"
TINY = DATA / "tiny.yaml"
ITEMS = DATA / "items.csv"
PTM = HERE.parent / "taxonomy" / "ptm-reuse.yaml"
REFI_DIR = HERE.parent.parent / "shared" / "refi"  # /work/shared/refi beside the repo
P = "{urn:QDA-XML:project:1.0}"
ANSWERS = {"i1": "usage", "i2": "resources", "i3": "performance!", "i4": "none"}
HUMAN = "item_id,coder,code\ni1,ana,usage\ni2,ana,resources\ni3,ana,performance\ni4,ana,usage\n"


def schema(name: str) -> etree.XMLSchema:
    path = REFI_DIR / name
    if not path.is_file():
        pytest.skip(f"REFI-QDA schema {path} not found (shared/refi/ is not beside the repo)")
    return etree.XMLSchema(etree.parse(str(path)))


def assert_valid(xsd: etree.XMLSchema, document: etree._Element) -> None:
    assert xsd.validate(document), "\n".join(str(e) for e in xsd.error_log)


def project_xml(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def source_text(path: Path, source: etree._Element) -> str:
    member = "sources/" + source.get("plainTextPath").removeprefix("internal://")
    with zipfile.ZipFile(path) as archive:
        return archive.read(member).decode("utf-8")


def said(result) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def note_text(root: etree._Element, coding: etree._Element) -> str:
    guid = coding.find(f"{P}NoteRef").get("targetGUID")
    note = root.find(f"{P}Notes/{P}Note[@guid='{guid}']")
    return note.findtext(f"{P}PlainTextContent")


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path / "runs", TINY, ITEMS, ANSWERS)


@pytest.fixture
def human(tmp_path):
    path = tmp_path / "human.csv"
    path.write_text(HUMAN)
    return path


# codebooks


@pytest.mark.parametrize("taxonomy", [TINY, PTM], ids=["tiny", "ptm-reuse"])
def test_codebook_is_valid_against_the_refi_schema(taxonomy):
    document = etree.fromstring(codebook_xml(load_taxonomy(taxonomy)))
    assert_valid(schema("Codebook.xsd"), document)


@pytest.mark.parametrize("taxonomy", [TINY, PTM], ids=["tiny", "ptm-reuse"])
def test_taxonomy_round_trips_through_a_codebook_unchanged(taxonomy, tmp_path):
    original = load_taxonomy(taxonomy)
    write_codebook(original, tmp_path / "book.qdc")
    back = read_codebook(tmp_path / "book.qdc")
    assert back.taxonomy == original  # ids, names, definitions, criteria, examples, nesting
    assert back.warnings == []


def test_colours_and_descriptions_of_a_qda_tools_codebook_survive_import_and_export(tmp_path):
    from tests.support.qda_project import PROJECT

    with zipfile.ZipFile(PROJECT) as archive:
        original = etree.fromstring(archive.read("project.qde"))
    codes = {c.get("name"): c for c in original.iter(f"{P}Code")}
    taxonomy, _ = read_taxonomy(PROJECT)
    for category in taxonomy.walk():
        code = codes[category.name]
        assert category.color == code.get("color")
        assert category.definition == code.findtext(f"{P}Description")
    (tmp_path / "t.yaml").write_text(dump_taxonomy(taxonomy), encoding="utf-8")
    assert "color: '#C0504D'" in (tmp_path / "t.yaml").read_text(encoding="utf-8")
    again = load_taxonomy(tmp_path / "t.yaml")
    assert again == taxonomy
    exported = etree.fromstring(codebook_xml(again))
    for code in exported.iter("{urn:QDA-XML:codebook:1.0}Code"):
        mine = codes[code.get("name")]
        assert code.get("color") == mine.get("color")
        description = code.findtext("{urn:QDA-XML:codebook:1.0}Description")
        assert description.startswith(mine.findtext(f"{P}Description") + "\n\nllmcode id: ")
    write_codebook(again, tmp_path / "t.qdc")
    assert read_codebook(tmp_path / "t.qdc").taxonomy == taxonomy


def test_a_colour_is_not_part_of_the_fingerprint_and_a_bad_one_is_refused(tmp_path):
    plain = load_taxonomy(TINY)
    coloured = plain.model_copy(deep=True)
    coloured.categories[0].color = "#123456"
    assert coloured != plain and coloured.fingerprint() == plain.fingerprint()
    text = TINY.read_text(encoding="utf-8").replace(
        "    name: Model Usage\n", "    name: Model Usage\n    color: red\n"
    )
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match="color"):
        load_taxonomy(tmp_path / "bad.yaml")


def test_codebook_nests_codes_and_puts_definitions_in_descriptions():
    document = etree.fromstring(codebook_xml(load_taxonomy(TINY)))
    c = "{urn:QDA-XML:codebook:1.0}"
    performance = document.find(f"{c}Codes/{c}Code[@name='Model Performance']")
    assert [code.get("name") for code in performance.findall(f"{c}Code")] == [
        "Slow inference",
        "Accuracy drop",
    ]
    assert performance.findtext(f"{c}Description").startswith("The model is slow or inaccurate.")
    assert performance.get("guid") == code_guid("tiny", "performance")


def test_code_guids_are_stable_and_specific_to_the_taxonomy():
    assert code_guid("tiny", "usage") == code_guid("tiny", "usage")
    assert code_guid("tiny", "usage") != code_guid("other", "usage")
    assert codebook_xml(load_taxonomy(TINY)) == codebook_xml(load_taxonomy(TINY))


def test_a_codebook_from_taguette_imports_with_ids_from_names(tmp_path):
    result = read_codebook(DATA / "refi" / "taguette-1.5.2.qdc")
    assert [c.id for c in result.taxonomy.categories] == [
        "interesting",
        "model_usage",
        "model_usage_prompting",
        "resources",
    ]
    assert result.taxonomy.get("resources").definition == "Resources"
    assert len(result.warnings) == 4  # no descriptions: each one said
    assert result.taxonomy.name == "taguette-1.5.2"


def test_a_project_codebook_from_another_tool_keeps_its_nesting():
    result = read_codebook(DATA / "refi" / "foreign-project.qde")
    usage = result.taxonomy.categories[0]
    assert (usage.id, usage.definition) == ("model_usage", "How to call or configure the model.")
    assert [c.id for c in usage.children] == ["prompting"]
    assert result.taxonomy.categories[1].id == "resources_gpu"


def test_a_file_that_is_not_a_codebook_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.qdc"
    bad.write_text("<Project xmlns='urn:QDA-XML:project:1.0' name='p'/>")
    with pytest.raises(InterchangeError, match="no CodeBook"):
        read_codebook(bad)
    bad.write_text("not xml")
    with pytest.raises(InterchangeError, match="not an XML codebook"):
        read_codebook(bad)


# projects


def test_project_is_valid_against_the_refi_schema(run, human, tmp_path):
    export_project(run, tmp_path / "p.qdpx", human=human)
    assert_valid(schema("Project.xsd"), project_xml(tmp_path / "p.qdpx"))


def test_project_summary_counts_what_was_written(run, human, tmp_path):
    summary = export_project(run, tmp_path / "p.qdpx", human=human)
    root = project_xml(tmp_path / "p.qdpx")
    assert summary.sources == len(root.findall(f"{P}Sources/{P}TextSource")) == 4
    assert summary.codes == len(root.findall(f".//{P}CodeBook//{P}Code")) == 5
    assert summary.codings == len(root.findall(f".//{P}Coding")) == 3 + 4
    assert summary.notes == len(root.findall(f"{P}Notes/{P}Note")) == 3 + 1
    assert summary.users == 2
    assert str(summary) == "4 sources, 5 codes, 7 codings, 4 notes, 2 users"


def test_verified_evidence_becomes_a_selection_at_its_character_offsets(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("item_id,text\nu1,Ünïcode 🎉 first: the GPU runs out of memory at once\n")
    run = make_run(tmp_path / "runs", TINY, items, {"u1": "resources@GPU runs out of memory"})
    span = run.latest_codings()["u1"].codes[0].evidence[0]
    assert span.verified and span.start == 21  # after two accented letters and an emoji
    export_project(run, tmp_path / "p.qdpx")
    root = project_xml(tmp_path / "p.qdpx")
    source = root.find(f"{P}Sources/{P}TextSource")
    selection = source.find(f"{P}PlainTextSelection")
    start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
    assert (start, end) == (span.start, span.end)
    assert source_text(tmp_path / "p.qdpx", source)[start:end] == span.quote  # code points


def test_a_code_without_verified_evidence_covers_the_whole_text(run, tmp_path):
    export_project(run, tmp_path / "p.qdpx")
    root = project_xml(tmp_path / "p.qdpx")
    source = root.find(f"{P}Sources/{P}TextSource[@name='i3']")
    selection = source.find(f"{P}PlainTextSelection")
    text = source_text(tmp_path / "p.qdpx", source)
    assert (selection.get("startPosition"), selection.get("endPosition")) == ("0", str(len(text)))
    note = note_text(root, selection.find(f"{P}Coding"))
    assert "coded on the whole text" in note and "not found in the text" in note


def test_the_model_is_its_own_user_and_its_note_holds_justification_and_confidence(run, tmp_path):
    export_project(run, tmp_path / "p.qdpx")
    root = project_xml(tmp_path / "p.qdpx")
    users = {u.get("name"): u.get("guid") for u in root.iter(f"{P}User")}
    assert list(users) == ["scripted-model"]
    coding = root.find(f".//{P}TextSource[@name='i1']//{P}Coding")
    assert coding.get("creatingUser") == users["scripted-model"]
    note = note_text(root, coding)
    assert "justification: the reporter writes:" in note
    assert "confidence: 0.80" in note
    assert "status: ok" in note


def test_human_coders_are_users_of_their_own_coding_the_whole_text(run, human, tmp_path):
    export_project(run, tmp_path / "p.qdpx", human=human)
    root = project_xml(tmp_path / "p.qdpx")
    users = {u.get("guid"): u.get("name") for u in root.iter(f"{P}User")}
    source = root.find(f"{P}Sources/{P}TextSource[@name='i4']")  # the model found no code
    codings = source.findall(f".//{P}Coding")
    assert [users[c.get("creatingUser")] for c in codings] == ["ana"]


def test_a_suggested_new_code_is_a_note_on_the_source(run, tmp_path):
    export_project(run, tmp_path / "p.qdpx")
    root = project_xml(tmp_path / "p.qdpx")
    source = root.find(f"{P}Sources/{P}TextSource[@name='i4']")
    guid = source.find(f"{P}NoteRef").get("targetGUID")
    note = root.find(f"{P}Notes/{P}Note[@guid='{guid}']").findtext(f"{P}PlainTextContent")
    assert "suggested new code: Docs" in note


def test_item_metadata_and_status_become_variables(run, tmp_path):
    export_project(run, tmp_path / "p.qdpx")
    root = project_xml(tmp_path / "p.qdpx")
    variables = {v.get("guid"): v.get("name") for v in root.iter(f"{P}Variable")}
    assert sorted(variables.values()) == ["llmcode_status", "project"]  # text columns left out
    source = root.find(f"{P}Sources/{P}TextSource[@name='i3']")
    values = {
        variables[v.find(f"{P}VariableRef").get("targetGUID")]: v.findtext(f"{P}TextValue")
        for v in source.findall(f"{P}VariableValue")
    }
    assert values == {"llmcode_status": "unverified", "project": "lumen/caption"}


def test_exporting_a_run_twice_gives_the_same_bytes(run, tmp_path):
    export_project(run, tmp_path / "a.qdpx")
    export_project(run, tmp_path / "b.qdpx")
    assert (tmp_path / "a.qdpx").read_bytes() == (tmp_path / "b.qdpx").read_bytes()


def test_export_then_import_gives_the_same_codes(run, human, tmp_path):
    export_project(run, tmp_path / "p.qdpx", human=human)
    imported = read_project(tmp_path / "p.qdpx")
    model = load_run_codes(run)
    expected = {
        (r.item_id, "scripted-model", r.code) for r in model.itertuples() if r.code != "none"
    }
    expected |= {tuple(row) for row in pd.read_csv(human)[["item_id", "coder", "code"]].values}
    assert set(map(tuple, imported.codes[["item_id", "coder", "code"]].values)) == expected
    assert imported.taxonomy == run.taxonomy()
    assert imported.items.set_index("item_id")["text"].to_dict() == {
        i.item_id: i.text for i in run.items()
    }


def test_human_codes_outside_the_taxonomy_are_an_error_naming_the_row(run, tmp_path):
    bad = tmp_path / "human.csv"
    bad.write_text("item_id,coder,code\ni1,ana,usage\ni2,ben,gpu_stuff\n")
    with pytest.raises(InterchangeError, match=r"row 3 \(item i2, coder ben\): code 'gpu_stuff'"):
        export_project(run, tmp_path / "p.qdpx", human=bad)


def test_human_codes_of_items_outside_the_run_are_left_out_and_counted(run, tmp_path):
    more = tmp_path / "human.csv"
    more.write_text("item_id,coder,code\ni1,ana,usage\ni99,ana,usage\n")
    summary = export_project(run, tmp_path / "p.qdpx", human=more)
    assert summary.skipped == 1
    assert "1 codes of items not in the run left out" in str(summary)


def test_reviewed_codes_are_exported_under_the_reviewer(run, tmp_path):
    from llmcode.review.session import ReviewSession

    session = ReviewSession(run, "rita")
    assert session.go_to("i3")
    session.memo("slow, yes")
    session.accept()
    export_project(run, tmp_path / "p.qdpx", reviewed=True)
    root = project_xml(tmp_path / "p.qdpx")
    users = {u.get("guid"): u.get("name") for u in root.iter(f"{P}User")}
    codings = root.findall(f".//{P}TextSource[@name='i3']//{P}Coding")
    assert sorted(users[c.get("creatingUser")] for c in codings) == ["rita", "scripted-model"]
    rita = next(c for c in codings if users[c.get("creatingUser")] == "rita")
    assert "memo: slow, yes" in note_text(root, rita)
    assert "action: accept" in note_text(root, rita)


def test_automatic_accepts_are_exported_under_a_user_of_their_own(run, tmp_path):
    from llmcode.review.session import ReviewSession
    from llmcode.review.triage import auto_accept

    assert auto_accept(run, "rita", 0.0, force=True).decisions  # every coded item
    session = ReviewSession(run, "rita")
    assert session.go_to("i3")
    session.change(["usage"])  # rita decides i3 herself
    export_project(run, tmp_path / "p.qdpx", reviewed=True)
    root = project_xml(tmp_path / "p.qdpx")
    users = {u.get("guid"): u.get("name") for u in root.iter(f"{P}User")}
    assert "rita (automatic)" in users.values() and "rita" in users.values()
    codings = root.findall(f".//{P}TextSource[@name='i3']//{P}Coding")
    assert "rita" in {users[c.get("creatingUser")] for c in codings}
    assert "rita (automatic)" not in {users[c.get("creatingUser")] for c in codings}


def test_text_that_xml_forbids_is_replaced_not_fatal(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text('item_id,text\nx1,"\x1b[31mERROR\x1b[0m CUDA out of memory on load"\n')
    run = make_run(tmp_path / "runs", TINY, items, {"x1": "resources"})
    export_project(run, tmp_path / "p.qdpx")
    root = project_xml(tmp_path / "p.qdpx")
    assert_valid(schema("Project.xsd"), root)
    source = root.find(f"{P}Sources/{P}TextSource")
    assert source_text(tmp_path / "p.qdpx", source).startswith("\x1b[31m")  # the text is intact


def test_a_project_from_another_tool_imports_coders_codes_and_evidence(tmp_path):
    path = tmp_path / "foreign.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(DATA / "refi" / "foreign-project.qde", "project.qde")
        archive.write(
            DATA / "refi" / "foreign-project.source-1.txt",
            "sources/d0d0d0d0-0000-4000-8000-000000000001.txt",
        )
    imported = read_project(path)
    rows = [tuple(r) for r in imported.codes.values]
    assert rows == [  # one row per passage and code, in source order
        ("interview-1", "Ana", "prompting", 0, 19, "How do I prompt it?"),
        ("interview-1", "ben", "model_usage", 0, 85, ""),  # a coding of the whole source
        ("interview-1", "Ana", "prompting", 41, 61, "Which template works"),
        ("interview-2", "Ana", "resources_gpu", 4, 24, "7B model needs 28 GB"),  # the creator
    ]
    assert imported.warnings == [
        "code 'Prompting' has no description: its definition is its name",
        "1 non-text sources (PDF, picture, audio, video) skipped",
    ]
    assert list(imported.items["item_id"]) == ["interview-1", "interview-2"]


def test_a_sources_folder_spelled_with_a_capital_is_found(run, tmp_path):
    export_project(run, tmp_path / "p.qdpx")
    with (
        zipfile.ZipFile(tmp_path / "p.qdpx") as src,
        zipfile.ZipFile(tmp_path / "S.qdpx", "w") as dst,
    ):
        for name in src.namelist():
            dst.writestr(name.replace("sources/", "Sources/"), src.read(name))
    imported = read_project(tmp_path / "S.qdpx")
    assert imported.warnings == []
    assert list(imported.items["text"]) == [item.text for item in run.items()]


def test_a_file_that_is_not_a_project_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.qdpx"
    bad.write_text("hello")
    with pytest.raises(InterchangeError, match="not a REFI-QDA project"):
        read_project(bad)
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("readme.txt", "no project here")
    with pytest.raises(InterchangeError, match=r"no project\.qde"):
        read_project(bad)


# command line


def test_cli_exports_and_imports_a_codebook(tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        get_app(),
        ["taxonomy", "export", str(TINY), "--format", "qdc", "-o", str(tmp_path / "tiny.qdc")],
    )
    assert out.exit_code == 0, out.output
    assert "5 codes" in said(out)
    back = runner.invoke(
        get_app(),
        ["taxonomy", "import", str(tmp_path / "tiny.qdc"), "-o", str(tmp_path / "tiny.yaml")],
    )
    assert back.exit_code == 0, back.output
    assert load_taxonomy(tmp_path / "tiny.yaml") == load_taxonomy(TINY)


def test_cli_rejects_an_unknown_codebook_format_as_a_usage_error():
    out = CliRunner().invoke(get_app(), ["taxonomy", "export", str(TINY), "--format", "nvp"])
    assert out.exit_code == 2
    assert "'nvp' is not one of" in said(out)


def test_cli_export_qdpx_then_import_qdpx(run, human, tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        get_app(),
        [
            "export",
            str(run.path),
            "--format",
            "qdpx",
            "--human",
            str(human),
            "-o",
            str(tmp_path / "p.qdpx"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "4 sources, 5 codes, 7 codings, 4 notes, 2 users" in said(out)
    back = runner.invoke(
        get_app(),
        [
            "import",
            "qdpx",
            str(tmp_path / "p.qdpx"),
            "-o",
            str(tmp_path / "codes.csv"),
            "--items-out",
            str(tmp_path / "items.csv"),
            "--coder",
            "ana",
        ],
    )
    assert back.exit_code == 0, back.output
    codes = pd.read_csv(tmp_path / "codes.csv", dtype=str, keep_default_na=False)
    assert list(codes.columns) == ["item_id", "coder", "code", "start", "end", "evidence"]
    assert set(codes["coder"]) == {"ana"} and len(codes) == 4
    assert len(pd.read_csv(tmp_path / "items.csv")) == 4


def test_cli_import_qdpx_names_an_unknown_coder(run, tmp_path):
    export_project(run, tmp_path / "p.qdpx")
    out = CliRunner().invoke(
        get_app(),
        [
            "import",
            "qdpx",
            str(tmp_path / "p.qdpx"),
            "-o",
            str(tmp_path / "c.csv"),
            "--coder",
            "zoe",
        ],
    )
    assert out.exit_code == 1
    assert "no codings by zoe" in said(out) and "scripted-model" in said(out)


# Hostile projects: sources outside the archive, members that expand without bound.

SECRET_FILE_TEXT = "secret content that must never become an item"


def project_with_source(tmp_path, plain_text_path, base_path=None):
    """A one-source project whose TextSource points at ``plain_text_path``."""
    base = f' basePath="{base_path}"' if base_path is not None else ""
    qde = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Project xmlns="urn:QDA-XML:project:1.0" name="p"{base}><Sources>'
        '<TextSource guid="d0d0d0d0-0000-4000-8000-000000000001" name="s1" '
        f'plainTextPath="{plain_text_path}"/></Sources></Project>'
    )
    path = tmp_path / "hostile.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde)
    return path


@pytest.mark.parametrize(
    ("location", "base"),
    [
        ("relative://secret.txt", "{dir}"),
        ("relative://../outside/secret.txt", "{dir}/sub"),
        ("{dir}/secret.txt", None),
        ("file://{dir}/secret.txt", None),
        ("relative://secret.txt", None),
    ],
)
def test_a_source_outside_the_archive_is_an_error_naming_it_and_never_read(
    tmp_path, location, base
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET_FILE_TEXT)
    (tmp_path / "secret.txt").write_text(SECRET_FILE_TEXT)
    path = project_with_source(
        tmp_path,
        location.format(dir=tmp_path),
        base.format(dir=tmp_path) if base else None,
    )
    with pytest.raises(InterchangeError, match=r"hostile\.qdpx: source 's1'.*outside"):
        read_project(path)


def test_a_member_that_expands_beyond_the_bound_is_an_error(tmp_path, monkeypatch):
    from llmcode import qdpxfiles  # the archive's reading, shared with items

    monkeypatch.setattr(qdpxfiles, "MAX_EXPANDED_BYTES", 10_000)
    path = project_with_source(tmp_path, "internal://big.txt")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sources/big.txt", "a" * 50_000)  # compresses to ~100 bytes
    assert path.stat().st_size < 2_000
    with pytest.raises(InterchangeError, match=r"hostile\.qdpx: .*expand.*10000"):
        read_project(path)


def test_an_internal_source_is_still_read(tmp_path):
    path = project_with_source(tmp_path, "internal://s.txt")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("sources/s.txt", "inside text")
    assert list(read_project(path).items["text"]) == ["inside text"]


def test_a_taxonomy_is_read_from_a_codebook_or_from_a_projects_codebook(run, tmp_path):
    write_codebook(load_taxonomy(TINY), tmp_path / "tiny.qdc")
    from_codebook, _ = read_taxonomy(tmp_path / "tiny.qdc", name="named")
    export_project(run, tmp_path / "p.qdpx")
    from_project, _ = read_taxonomy(tmp_path / "p.qdpx")
    ids = [c.id for c in load_taxonomy(TINY).walk()]
    assert [c.id for c in from_codebook.walk()] == [c.id for c in from_project.walk()] == ids


def test_a_project_without_a_codebook_has_no_taxonomy(tmp_path):
    with zipfile.ZipFile(tmp_path / "empty.qdpx", "w") as archive:
        archive.writestr(
            "project.qde",
            '<Project xmlns="urn:QDA-XML:project:1.0" name="p" origin="t"></Project>',
        )
    with pytest.raises(InterchangeError):
        read_taxonomy(tmp_path / "empty.qdpx")


def test_a_selection_whose_positions_are_not_numbers_is_an_error_not_a_whole_source_coding(
    tmp_path,
):
    """Issue 25, defect 23: ``startPosition="abc"`` became a coding of the whole source."""
    project = (DATA / "refi" / "foreign-project.qde").read_text()
    path = tmp_path / "foreign.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "project.qde", project.replace('startPosition="0"', 'startPosition="abc"', 1)
        )
        archive.write(
            DATA / "refi" / "foreign-project.source-1.txt",
            "sources/d0d0d0d0-0000-4000-8000-000000000001.txt",
        )
    with pytest.raises(InterchangeError, match=r"source 'interview-1': selection .*'abc'"):
        read_project(path)
