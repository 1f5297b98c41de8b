"""A reviewer's memo on a passage reaches the REFI-QDA project: the Note of their selection."""

from __future__ import annotations

import zipfile

from lxml import etree

from llmcode.interchange.refi import read_project
from llmcode.interchange.refi.project import export_project
from llmcode.review.passage_session import PassageSession
from tests.interchange.test_refi import assert_valid, schema
from tests.review.passage_runs import make_segment_run

NS = {"q": "urn:QDA-XML:project:1.0"}


def test_a_memo_on_an_accepted_passage_is_in_the_note_of_the_reviewers_selection(tmp_path):
    run = make_segment_run(tmp_path / "runs")
    session = PassageSession(run, "ana")
    session.accept()  # m0 [683, 1228)
    session.go_to(("p1-logistics", "m0"))
    session.memo("fits, but the quote is long")
    export_project(run, tmp_path / "p.qdpx", reviewed=True)
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        root = etree.fromstring(archive.read("project.qde"))
    users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
    notes = {
        n.get("guid"): n.findtext("q:PlainTextContent", namespaces=NS)
        for n in root.iterfind(".//q:Note", NS)
    }
    ana = [
        s
        for s in root.iterfind(".//q:PlainTextSelection", NS)
        if users.get(s.get("creatingUser")) == "ana" and s.get("startPosition") == "683"
    ]
    (selection,) = ana
    (ref,) = selection.iterfind("q:NoteRef", NS)
    assert "memo: fits, but the quote is long" in notes[ref.get("targetGUID")]


def test_a_memo_on_an_undecided_passage_is_a_selection_of_the_reviewer_with_no_coding(tmp_path):
    """The memo is kept on the model's offsets, as a selection without a Coding (valid REFI)."""
    run = make_segment_run(tmp_path / "runs")
    session = PassageSession(run, "ana")
    session.go_to(("p1-logistics", "m0"))
    session.memo("ask ben about this one")
    export_project(run, tmp_path / "p.qdpx", reviewed=True)
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        root = etree.fromstring(archive.read("project.qde"))
    assert_valid(schema("Project.xsd"), root)
    users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
    notes = {
        n.get("guid"): n.findtext("q:PlainTextContent", namespaces=NS)
        for n in root.iterfind(".//q:Note", NS)
    }
    (selection,) = [
        s
        for s in root.iterfind(".//q:PlainTextSelection", NS)
        if users.get(s.get("creatingUser")) == "ana"
    ]
    assert selection.get("startPosition") == "683"
    assert not list(selection.iterfind("q:Coding", NS))  # a memo, not a decision
    (ref,) = selection.iterfind("q:NoteRef", NS)
    assert "memo: ask ben about this one" in notes[ref.get("targetGUID")]
    codes = read_project(tmp_path / "p.qdpx").codes
    assert "ana" not in set(codes["coder"])  # read back: a memo is no code
