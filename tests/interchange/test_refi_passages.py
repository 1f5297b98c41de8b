"""REFI-QDA with passages: a segment run exported as selections, imported back exactly, and
projects whose selections, sources, GUIDs or code references are wrong refused by name."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

import llmcode
from llmcode.errors import InterchangeError
from llmcode.interchange.refi import export_project, read_project
from llmcode.store.runs import Run, load_run_codes
from llmcode.testserver import ServerConfig, TestServer

HERE = Path(__file__).parents[1]
ROOT = HERE.parent
DATA = HERE / "data"
INTERVIEWS = ROOT / "examples" / "interviews"
REFI_DIR = ROOT.parent / "shared" / "refi"
P = "{urn:QDA-XML:project:1.0}"
FOREIGN = DATA / "refi" / "foreign-project.qde"
FOREIGN_SOURCE = DATA / "refi" / "foreign-project.source-1.txt"
FOREIGN_MEMBER = "sources/d0d0d0d0-0000-4000-8000-000000000001.txt"


def project_schema() -> etree.XMLSchema:
    path = REFI_DIR / "Project.xsd"
    if not path.is_file():
        pytest.skip(f"REFI-QDA schema {path} not found (shared/refi/ is not beside the repo)")
    return etree.XMLSchema(etree.parse(str(path)))


def project_xml(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def passages(frame: pd.DataFrame) -> set[tuple[str, str, str, int, int]]:
    coded = frame.dropna(subset=["code"])
    return {
        (r.item_id, r.coder, r.code, int(r.start), int(r.end))
        for r in coded[["item_id", "coder", "code", "start", "end"]].itertuples()
    }


@pytest.fixture(scope="module")
def segment_run(tmp_path_factory) -> Run:
    """The interview example coded in passages by the test server (no model runs)."""
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch, TestServer(ServerConfig()) as server:
        patch.setenv("OPENAI_API_KEY", "sk-test")
        return llmcode.code(
            INTERVIEWS / "ptm-interviews.yaml",
            INTERVIEWS / "transcripts",
            base_url=server.base_url,
            model="test-model",
            unit="segment",
            level="leaves",
            context_tokens=4096,
            runs_dir=runs,
            run_id="seg",
            cache=False,
        )


@pytest.fixture(scope="module")
def exported(segment_run, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qdpx") / "seg.qdpx"
    export_project(segment_run, path)
    return path


def test_a_segment_project_is_valid_against_the_refi_schema(exported):
    schema = project_schema()
    assert schema.validate(project_xml(exported)), str(schema.error_log)


def test_each_passage_is_a_selection_at_its_offsets_with_a_coding_per_code(segment_run, exported):
    root = project_xml(exported)
    codes = {c.get("guid"): c.get("name") for c in root.iter(f"{P}Code")}
    names = {c.id: c.name for c in segment_run.taxonomy().walk()}
    found = {}
    for source in root.iter(f"{P}TextSource"):
        for selection in source.iter(f"{P}PlainTextSelection"):
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            found[(source.get("name"), start, end)] = sorted(
                codes[c.find(f"{P}CodeRef").get("targetGUID")] for c in selection.iter(f"{P}Coding")
            )
    expected = {}
    for record in segment_run.latest_codings().values():
        for segment in record.segments:
            if segment.verified:
                key = (record.item_id, segment.start, segment.end)
                expected[key] = sorted(names[c.code] for c in segment.codes)
    assert found == expected and len(found) > 20


def test_each_passage_has_a_note_with_its_justification_confidence_and_evidence_check(
    segment_run, exported
):
    root = project_xml(exported)
    notes = {n.get("guid"): n.findtext(f"{P}PlainTextContent") for n in root.iter(f"{P}Note")}
    users = {u.get("guid"): u.get("name") for u in root.iter(f"{P}User")}
    selection = next(root.iter(f"{P}PlainTextSelection"))
    assert users[selection.get("creatingUser")] == "test-model" == segment_run.manifest().coder
    note = notes[selection.find(f"{P}NoteRef").get("targetGUID")]  # the selection's own note
    assert "evidence check: verified (the passage is a verbatim quote of the text)" in note
    assert "confidence 0.80" in note and "justification: The passage describes" in note


def test_export_then_import_gives_back_the_runs_passages_exactly(segment_run, exported):
    imported = read_project(exported)
    assert passages(imported.codes) == passages(load_run_codes(segment_run))
    texts = {item.item_id: item.text for item in segment_run.items()}
    assert imported.items.set_index("item_id")["text"].to_dict() == texts
    for row in imported.codes.itertuples():
        assert row.evidence in ("", texts[row.item_id][row.start : row.end])
    assert imported.warnings == []


def test_a_passage_not_found_in_the_text_is_noted_on_its_source(segment_run, tmp_path):
    records = segment_run.latest_codings()
    record = records["p2-bank"]
    lost = record.segments[0].model_copy(
        update={"start": None, "end": None, "verified": False, "quote": "never said"}
    )
    changed = record.model_copy(update={"segments": [*record.segments, lost]})
    with (segment_run.path / "codings.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(changed.model_dump_json() + "\n")
    try:
        export_project(segment_run, tmp_path / "p.qdpx")
    finally:  # the module's run stays as it was
        lines = (segment_run.path / "codings.jsonl").read_text(encoding="utf-8").splitlines()
        (segment_run.path / "codings.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    root = project_xml(tmp_path / "p.qdpx")
    source = root.find(f"{P}Sources/{P}TextSource[@name='p2-bank']")
    guid = source.find(f"{P}NoteRef").get("targetGUID")
    note = root.find(f"{P}Notes/{P}Note[@guid='{guid}']").findtext(f"{P}PlainTextContent")
    assert 'passages not found in the text (no offsets):\n- "never said"' in note


def test_imported_passages_are_compared_with_agree_and_eval_on_segments(
    cli, segment_run, exported, tmp_path
):
    codes, items = tmp_path / "codes.csv", tmp_path / "items.csv"
    result = cli("import", "qdpx", exported, "-o", codes, "--items-out", items)
    assert result.exit_code == 0, result.output
    merged = pd.concat([pd.read_csv(codes), pd.read_csv(INTERVIEWS / "codes.csv")])
    merged.to_csv(tmp_path / "both.csv", index=False)
    agree = cli("agree", tmp_path / "both.csv", "--unit", "segment", "--items", items, "--coder",
                "ana", "--coder", "test-model", "--json", "--bootstrap", "20")  # fmt: skip
    assert agree.exit_code == 0, agree.output
    assert json.loads(agree.stdout)["unitizing_alpha"]["overall"] is not None
    gold = pd.read_csv(codes).assign(coder="imported")  # the run's own passages, back as gold
    gold.to_csv(tmp_path / "gold.csv", index=False)
    scored = cli("eval", segment_run.path, "--gold", tmp_path / "gold.csv", "--unit", "segment",
                 "--json", "--bootstrap", "20")  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["runs"]["test-model"]["f1"] == 1.0


# Bad projects: each is an error naming what is wrong, and the CLI says it without a traceback.


def foreign(tmp_path: Path, edit=lambda qde: qde, source: bool = True) -> Path:
    path = tmp_path / "bad.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", edit(FOREIGN.read_text(encoding="utf-8")))
        if source:
            archive.write(FOREIGN_SOURCE, FOREIGN_MEMBER)
    return path


BAD = {
    "selection past the end": (
        lambda qde: qde.replace(
            'startPosition="41" endPosition="61"', 'startPosition="41" endPosition="86"'
        ),
        r"source 'interview-1': selection \{E0E0E0E0-0000-4000-8000-000000000002\} \[41, 86\) "
        r"ends past the end of the source's text \(85 characters\)",
    ),
    "negative start": (
        lambda qde: qde.replace('startPosition="4"', 'startPosition="-1"'),
        r"source 'interview-2': selection \{E0E0E0E0-0000-4000-8000-000000000003\} \[-1, 24\) "
        "starts before the text",
    ),
    "empty selection": (
        lambda qde: qde.replace(
            'startPosition="4" endPosition="24"', 'startPosition="9" endPosition="9"'
        ),
        r"selection \{E0E0E0E0-0000-4000-8000-000000000003\} \[9, 9\) is empty",
    ),
    "duplicate GUID": (
        lambda qde: qde.replace(
            "F0F0F0F0-0000-4000-8000-000000000004", "E0E0E0E0-0000-4000-8000-000000000003"
        ),
        r"duplicate GUID \{E0E0E0E0-0000-4000-8000-000000000003\}: <PlainTextSelection \[4, 24\)> "
        r"at line \d+ and <Coding> at line \d+",
    ),
    "code reference to no code": (
        lambda qde: qde.replace(
            'targetGUID="{C0C0C0C0-0000-4000-8000-000000000003}"',
            'targetGUID="{C0C0C0C0-0000-4000-8000-00000000dead}"',
        ),
        r"source 'interview-2': selection \{E0E0E0E0-0000-4000-8000-000000000003\} is coded with "
        r"code c0c0c0c0-0000-4000-8000-00000000dead, which is not in the project's codebook",
    ),
}


@pytest.mark.parametrize(("edit", "message"), BAD.values(), ids=list(BAD))
def test_a_bad_project_is_an_error_naming_what_is_wrong(cli, tmp_path, edit, message):
    path = foreign(tmp_path, edit)
    with pytest.raises(InterchangeError, match=message):
        read_project(path)
    result = cli("import", "qdpx", path, "-o", tmp_path / "c.csv")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not (tmp_path / "c.csv").exists()


def test_a_missing_source_file_is_an_error_naming_the_source_and_the_member(cli, tmp_path):
    path = foreign(tmp_path, source=False)
    with pytest.raises(
        InterchangeError, match=rf"source 'interview-1': its text {FOREIGN_MEMBER} is missing"
    ):
        read_project(path)
    result = cli("import", "qdpx", path, "-o", tmp_path / "c.csv")
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_overlapping_passages_of_one_coder_and_code_are_merged_with_a_warning(tmp_path):
    path = foreign(
        tmp_path,
        lambda qde: qde.replace(
            'startPosition="41" endPosition="61"', 'startPosition="10" endPosition="61"'
        ),
    )
    imported = read_project(path)
    ana = imported.codes[imported.codes["code"] == "prompting"]
    assert [(r.start, r.end) for r in ana.itertuples()] == [(0, 61)]
    assert "1 overlapping passages of one coder with one code merged" in " ".join(imported.warnings)


def test_a_selection_past_the_end_in_a_text_with_emoji_hints_at_utf16_counting(tmp_path):
    qde = (
        '<Project xmlns="urn:QDA-XML:project:1.0" name="p"><CodeBook><Codes>'
        '<Code guid="c0c0c0c0-0000-4000-8000-000000000001" name="Joy" isCodable="true"/>'
        "</Codes></CodeBook><Sources>"
        '<TextSource guid="d0d0d0d0-0000-4000-8000-000000000001" name="s" '
        'plainTextPath="internal://s.txt"><PlainTextSelection '
        'guid="e0e0e0e0-0000-4000-8000-000000000001" startPosition="4" endPosition="9">'
        '<Coding guid="f0f0f0f0-0000-4000-8000-000000000001">'
        '<CodeRef targetGUID="c0c0c0c0-0000-4000-8000-000000000001"/></Coding>'
        "</PlainTextSelection></TextSource></Sources></Project>"
    )
    path = tmp_path / "utf16.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde)
        archive.writestr("sources/s.txt", "😀 🎉 yes".encode())  # 8 characters, 10 UTF-16 units
    with pytest.raises(InterchangeError, match=r"\[4, 9\) ends past the end") as caught:
        read_project(path)
    assert "2 characters outside the Basic Multilingual Plane" in (caught.value.hint or "")
