"""Coded passages as REFI-QDA elements: PlainTextSelections with their Codings, Users and Notes.

A `Passage` is one coder's ``[start, end)`` of one source's text (characters: Unicode code
points of the plain text) with the codes given it. `Selections` turns passages into elements of
a project under construction — a new project (`llmcode.interchange.refi.project`) or one a QDA
tool wrote (`llmcode.interchange.refi.merge`): one PlainTextSelection per passage with one Coding
per code, its creator the coder's User; a note on the passage (a segment's justification,
confidence and evidence check) is a Note the selection refers to (NoteRef), a note on one code
(an item's rationale) a Note its Coding refers to. GUIDs are uuid5 of the run id, item, coder and
offsets, so writing the same passages twice gives the same elements. Elements are inserted where
the REFI schema's sequences put them (`insert_child`), after what is already there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from llmcode.interchange.refi.codebook import PROJECT_NS, stable_guid, xml_text

_P = f"{{{PROJECT_NS}}}"
PROJECT_ORDER = (
    "Users",
    "CodeBook",
    "Variables",
    "Cases",
    "Sources",
    "Notes",
    "Links",
    "Sets",
    "Graphs",
    "Description",
    "NoteRef",
)
"""The children of a Project, in the order Project.xsd requires."""
SOURCE_ORDER = (
    "Description",
    "PlainTextContent",
    "PlainTextSelection",
    "Coding",
    "NoteRef",
    "VariableValue",
)
"""The children of a TextSource, in the order Project.xsd requires."""


@dataclass
class Passage:
    """One coder's codes on ``[start, end)`` of one item's text, and what to say about them."""

    item_id: str
    coder: str
    start: int
    end: int
    codes: list[str]
    note: str = ""
    """A note on the passage as a whole (NoteRef of the selection)."""
    code_notes: dict[str, str] = field(default_factory=dict)
    """A note on one of its codes (NoteRef of that Coding)."""
    when: datetime | None = None


def join_passages(passages: list[Passage]) -> list[Passage]:
    """Passages of one coder on the same offsets of one item become one with all their codes."""
    out: dict[tuple[str, str, int, int], Passage] = {}
    for passage in passages:
        key = (passage.item_id, passage.coder, passage.start, passage.end)
        known = out.get(key)
        if known is None:
            out[key] = Passage(**{**passage.__dict__, "codes": list(passage.codes)})
            out[key].code_notes = dict(passage.code_notes)
            continue
        known.codes += [c for c in passage.codes if c not in known.codes]
        known.code_notes.update(passage.code_notes)
        known.note = "\n\n".join(n for n in (known.note, passage.note) if n)
    return list(out.values())


@dataclass
class Selections:
    """The elements of passages added to a project, with the Users and Notes they need."""

    run_id: str
    code_guid: Callable[[str], str]
    """The GUID of a code id in the project's codebook."""
    users: dict[str, str] = field(default_factory=dict)  # name -> guid
    notes: list[etree._Element] = field(default_factory=list)
    note_guids: set[str] = field(default_factory=set)
    codings: int = 0
    selections: int = 0

    def user(self, name: str) -> str:
        """The GUID of the User named ``name`` (made on first use)."""
        return self.users.setdefault(name, stable_guid("user", name))

    def note(self, key: tuple[str, ...], name: str, text: str, user: str, when: str | None) -> str:
        """The GUID of a Note with ``text`` (one per ``key``)."""
        guid = stable_guid("note", self.run_id, *key)
        if guid in self.note_guids:  # the same coder gave the same code twice: one note
            return guid
        self.note_guids.add(guid)
        note = etree.Element(f"{_P}Note", guid=guid, name=xml_text(name), creatingUser=user)
        if when:
            note.set("creationDateTime", when)
        etree.SubElement(note, f"{_P}PlainTextContent").text = xml_text(text)
        self.notes.append(note)
        return guid

    def add(self, source: etree._Element, text: str, passages: list[Passage]) -> None:
        """Append a selection for each passage of ``source`` (after its own selections)."""
        for passage in sorted(passages, key=lambda p: (p.start, p.end, p.coder)):
            user = self.user(passage.coder)
            when = stamp(passage.when) if passage.when else None
            key = (passage.item_id, passage.coder, str(passage.start), str(passage.end))
            selection = etree.Element(
                f"{_P}PlainTextSelection",
                guid=stable_guid("selection", self.run_id, *key),
                name=xml_text(label(text[passage.start : passage.end])),
                startPosition=str(passage.start),
                endPosition=str(passage.end),
                creatingUser=user,
            )
            if when:
                selection.set("creationDateTime", when)
            for code in passage.codes:
                self._coding(selection, passage, code, key, user, when)
            if passage.note:
                name = f"{passage.item_id} · [{passage.start}, {passage.end}) · {passage.coder}"
                guid = self.note(("passage", *key), name, passage.note, user, when)
                etree.SubElement(selection, f"{_P}NoteRef", targetGUID=guid)
            insert_child(source, selection, SOURCE_ORDER)
            self.selections += 1

    def _coding(
        self,
        selection: etree._Element,
        passage: Passage,
        code: str,
        key: tuple[str, ...],
        user: str,
        when: str | None,
    ) -> None:
        """One Coding of ``code`` in ``selection``, with the code's note if it has one."""
        coding = etree.SubElement(
            selection,
            f"{_P}Coding",
            guid=stable_guid("coding", self.run_id, *key, code),
            creatingUser=user,
        )
        if when:
            coding.set("creationDateTime", when)
        etree.SubElement(coding, f"{_P}CodeRef", targetGUID=self.code_guid(code))
        if passage.code_notes.get(code):
            name = f"{passage.item_id} · {code} · {passage.coder}"
            note_key = (passage.item_id, passage.coder, code)
            guid = self.note(note_key, name, passage.code_notes[code], user, when)
            etree.SubElement(coding, f"{_P}NoteRef", targetGUID=guid)
        self.codings += 1

    def source_note(
        self, source: etree._Element, item_id: str, coder: str, title: str, text: str
    ) -> None:
        """A Note on the source as a whole (e.g. the passages not found in its text)."""
        guid = self.note(("source", item_id, coder, title), f"{item_id} · {title}", text,
                         self.user(coder), None)  # fmt: skip
        insert_child(source, etree.Element(f"{_P}NoteRef", targetGUID=guid), SOURCE_ORDER)


def insert_child(parent: etree._Element, child: etree._Element, order: tuple[str, ...]) -> None:
    """Insert ``child`` after the last child of ``parent`` that ``order`` puts at or before it."""
    rank = {name: index for index, name in enumerate(order)}
    mine = rank[etree.QName(child).localname]
    position = 0
    for index, existing in enumerate(parent):
        if not isinstance(existing.tag, str):  # comments, processing instructions
            continue
        if rank.get(etree.QName(existing).localname, len(order)) <= mine:
            position = index + 1
    parent.insert(position, child)


def stamp(moment: datetime) -> str:
    """A moment as REFI writes it: UTC, whole seconds."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def label(quote: str, limit: int = 60) -> str:
    """A selection's name: its text on one line, shortened."""
    flat = " ".join(quote.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
