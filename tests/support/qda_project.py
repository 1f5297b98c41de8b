"""The interview example as a QDA tool would export it: ``examples/interviews/interviews.qdpx``.

Written from our own example (the five transcripts, the codebook, ana's and ben's passages), in
the shape ATLAS.ti and MAXQDA give a project: GUIDs in braces and upper case, codes known by name
and colour (no llmcode id lines), descriptions that are the definitions, sources as
``internal://`` plain text, one selection per passage and coder with a Coding per code, a memo
of ana's. Run ``python -m tests.support.qda_project`` to write it again; a test checks the
committed file is what this writes.
"""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

import pandas as pd
from lxml import etree

from llmcode.taxonomy.model import Category, load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
INTERVIEWS = ROOT / "examples" / "interviews"
PROJECT = INTERVIEWS / "interviews.qdpx"
NS = "urn:QDA-XML:project:1.0"
_P = f"{{{NS}}}"
_SEED = uuid.UUID("0e1b7c1e-5a7e-4f00-9b1e-1a7e2b0c0de5")
COLOURS = ("#C0504D", "#4F81BD", "#9BBB59", "#8064A2")
STAMP = (2026, 11, 2, 9, 30, 0)
CREATED = "2026-11-02T09:30:00Z"
MEMO = "ana: the leaderboard story comes back in p3; compare before the team meeting."


def guid(*parts: str) -> str:
    """A GUID as these tools write it: braces, upper case."""
    return "{" + str(uuid.uuid5(_SEED, "/".join(parts))).upper() + "}"


def project_bytes() -> dict[str, bytes]:
    """The members of the project: ``project.qde`` and ``sources/<guid>.txt``."""
    taxonomy = load_taxonomy(INTERVIEWS / "ptm-interviews.yaml")
    codes = pd.read_csv(INTERVIEWS / "codes.csv", dtype=str, keep_default_na=False)
    users = {name: guid("user", name) for name in dict.fromkeys(codes["coder"])}
    root = etree.Element(
        f"{_P}Project",
        nsmap={None: NS},
        name="Interviews on pre-trained models",
        origin="llmcode's tests, in the shape of a QDA tool's export",
        creatingUserGUID=users["ana"],
        creationDateTime=CREATED,
    )
    users_el = etree.SubElement(root, f"{_P}Users")
    for name, user in users.items():
        etree.SubElement(users_el, f"{_P}User", guid=user, name=name)
    code_guids: dict[str, str] = {}
    book = etree.SubElement(etree.SubElement(root, f"{_P}CodeBook"), f"{_P}Codes")
    for index, category in enumerate(taxonomy.categories):
        _code(book, category, COLOURS[index % len(COLOURS)], code_guids)
    sources_el = etree.SubElement(root, f"{_P}Sources")
    files: dict[str, bytes] = {}
    memo_guid = guid("note", "memo")
    for path in sorted((INTERVIEWS / "transcripts").glob("*.txt")):
        item_id = path.stem
        text = path.read_text(encoding="utf-8")
        source_guid = guid("source", item_id)
        member = source_guid.strip("{}").lower() + ".txt"
        files[f"sources/{member}"] = text.encode("utf-8")
        source = etree.SubElement(
            sources_el,
            f"{_P}TextSource",
            guid=source_guid,
            name=item_id,
            plainTextPath=f"internal://{member}",
            creatingUser=users["ana"],
            creationDateTime=CREATED,
        )
        rows = codes[codes["item_id"] == item_id]
        spans = rows.groupby(["coder", "start", "end"], sort=False)["code"].apply(list)
        ordered = sorted(spans.items(), key=lambda kv: (int(kv[0][1]), int(kv[0][2]), kv[0][0]))
        for number, ((coder, start, end), names) in enumerate(ordered):
            selection = etree.SubElement(
                source,
                f"{_P}PlainTextSelection",
                guid=guid("selection", item_id, coder, start, end),
                name=text[int(start) : int(end)][:40],
                startPosition=start,
                endPosition=end,
                creatingUser=users[coder],
                creationDateTime=CREATED,
            )
            for code in names:
                coding = etree.SubElement(
                    selection,
                    f"{_P}Coding",
                    guid=guid("coding", item_id, coder, start, end, code),
                    creatingUser=users[coder],
                    creationDateTime=CREATED,
                )
                etree.SubElement(coding, f"{_P}CodeRef", targetGUID=code_guids[code])
            if item_id == "p1-logistics" and coder == "ana" and number == 0:
                etree.SubElement(selection, f"{_P}NoteRef", targetGUID=memo_guid)
    notes = etree.SubElement(root, f"{_P}Notes")
    note = etree.SubElement(
        notes, f"{_P}Note", guid=memo_guid, name="Memo", creatingUser=users["ana"]
    )
    etree.SubElement(note, f"{_P}PlainTextContent").text = MEMO
    qde = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return {"project.qde": qde, **files}


def _code(parent: etree._Element, category: Category, colour: str, guids: dict[str, str]) -> None:
    guids[category.id] = guid("code", category.id)
    code = etree.SubElement(
        parent,
        f"{_P}Code",
        guid=guids[category.id],
        name=category.name,
        isCodable="true",
        color=colour,
    )
    etree.SubElement(code, f"{_P}Description").text = " ".join(category.definition.split())
    for child in category.children:
        _code(code, child, colour, guids)


def write_project(path: Path = PROJECT) -> Path:
    """Write the project (same bytes every time)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in project_bytes().items():
            info = zipfile.ZipInfo(name, date_time=STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


if __name__ == "__main__":
    print(write_project())
