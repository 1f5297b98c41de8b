"""`--merge-into` on random projects: whatever the texts (emoji, accents, CRLF, a byte-order mark
the tool wrote) and the team's and the model's passages, the merged project gives back the
team's passages unchanged and the model's exactly, and holds every element the tool wrote."""

from __future__ import annotations

import tempfile
import uuid
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from llmcode.interchange.refi import merge_project, read_project
from tests.support.segment_runs import CODES, MODEL, PIECES, apart, segment_run

P = "{urn:QDA-XML:project:1.0}"
NS = "urn:QDA-XML:project:1.0"
TEAM = ("ana", "ben")
NAMES = {"usage": "Model Usage", "performance": "Model Performance", "slow": "Slow inference",
         "inaccurate": "Accuracy drop", "resources": "Resources"}  # fmt: skip


def guid(*parts: str) -> str:
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts))).upper() + "}"


@st.composite
def projects(draw):
    """Documents (id, text, BOM written by the tool?) with the team's and the model's passages."""
    docs = []
    for index in range(draw(st.integers(1, 3))):
        text = "".join(draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=50)))
        text = text.lstrip("\ufeff") or "x"  # a text starting with U+FEFF: see the round trip
        coded = {}
        for coder in (*TEAM, MODEL):
            spans = draw(
                st.lists(
                    st.tuples(
                        st.integers(0, len(text) - 1),
                        st.integers(1, len(text)),
                        st.lists(st.sampled_from(CODES), min_size=1, max_size=2, unique=True),
                    ),
                    max_size=5,
                )
            )
            coded[coder] = apart([(s, e, c) for s, e, c in spans if s < e])
        docs.append((f"d{index}", text, coded, draw(st.booleans())))
    return docs


def tool_project(path: Path, docs) -> None:
    """A project as a QDA tool writes it: braces GUIDs, the team's passages, sources with BOMs."""
    root = etree.Element(f"{P}Project", nsmap={None: NS}, name="random", origin="a tool")
    users = etree.SubElement(root, f"{P}Users")
    for name in TEAM:
        etree.SubElement(users, f"{P}User", guid=guid("user", name), name=name)
    codes = etree.SubElement(etree.SubElement(root, f"{P}CodeBook"), f"{P}Codes")
    for code, name in NAMES.items():
        etree.SubElement(codes, f"{P}Code", guid=guid("code", code), name=name, isCodable="true")
    sources = etree.SubElement(root, f"{P}Sources")
    files = {}
    for item_id, text, coded, bom in docs:
        member = guid("source", item_id).strip("{}").lower() + ".txt"
        files[f"sources/{member}"] = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
        source = etree.SubElement(
            sources, f"{P}TextSource", guid=guid("source", item_id), name=item_id,
            plainTextPath=f"internal://{member}",
        )  # fmt: skip
        for coder in TEAM:
            for number, (start, end, names) in enumerate(coded[coder]):
                selection = etree.SubElement(
                    source, f"{P}PlainTextSelection", guid=guid("sel", item_id, coder, str(number)),
                    startPosition=str(start), endPosition=str(end),
                    creatingUser=guid("user", coder),
                )  # fmt: skip
                for code in names:
                    coding = etree.SubElement(
                        selection, f"{P}Coding", guid=guid("c", item_id, coder, str(number), code),
                        creatingUser=guid("user", coder),
                    )  # fmt: skip
                    etree.SubElement(coding, f"{P}CodeRef", targetGUID=guid("code", code))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "project.qde", etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        )
        for name, data in files.items():
            archive.writestr(name, data)


def rows(frame, coder: str) -> set[tuple]:
    mine = frame[frame["coder"] == coder]
    return {(r.item_id, r.code, int(r.start), int(r.end)) for r in mine.itertuples()}


def expected(docs, coder: str) -> set[tuple]:
    return {
        (item_id, code, start, end)
        for item_id, _, coded, _ in docs
        for start, end, names in coded[coder]
        for code in names
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(docs=projects())
def test_a_merged_project_keeps_the_teams_passages_and_adds_the_models_exactly(docs):
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        tool_project(here / "team.qdpx", docs)
        run = segment_run(here / "runs", [(i, text, coded) for i, text, coded, _ in docs])
        merge_project(run, here / "team.qdpx", here / "merged.qdpx")
        merged = read_project(here / "merged.qdpx")
        with (
            zipfile.ZipFile(here / "merged.qdpx") as after,
            zipfile.ZipFile(here / "team.qdpx") as before,
        ):
            kept = etree.fromstring(after.read("project.qde"))
            original = etree.fromstring(before.read("project.qde"))
            assert all(before.read(n) == after.read(n) for n in before.namelist()[1:])
    codes = {code: NAMES[code].lower().replace(" ", "_") for code in NAMES}  # ids from names
    for coder in TEAM:
        assert rows(merged.codes, coder) == {
            (i, codes[c], s, e) for i, c, s, e in expected(docs, coder)
        }
    assert rows(merged.codes, MODEL) == {
        (i, codes[c], s, e) for i, c, s, e in expected(docs, MODEL)
    }
    model = next(u for u in kept.iter(f"{P}User") if u.get("name") == MODEL).get("guid")
    for element in list(kept.iter(f"{P}User", f"{P}PlainTextSelection", f"{P}Note")):
        if model in (element.get("guid"), element.get("creatingUser")):
            element.getparent().remove(element)
    notes = kept.find(f"{P}Notes")
    if notes is not None and len(notes) == 0:
        kept.remove(notes)
    assert etree.tostring(kept, method="c14n") == etree.tostring(original, method="c14n")
