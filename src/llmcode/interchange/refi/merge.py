"""A run's passages added to a project a QDA tool wrote (``export --format qdpx --merge-into``).

The team's project (``PROJECT.qdpx``, from ATLAS.ti, MAXQDA, NVivo, QualCoder...) is read, never
written: the output is a new file holding every member of the project byte for byte, and a
``project.qde`` in which everything the tool wrote — sources, users, codes, GUIDs, codings,
notes, sets, variables — is kept as it was; the run's passages are added as PlainTextSelections
by a new User (the model; reviewers as theirs), with their Notes, so the team opens one project
with both. Each item of the run is the source the import gives that id (its name), and its text
must be the source's text exactly (offsets point into it). A code of the run's taxonomy is the
project's code with the same GUID (a codebook llmcode exported), else the code whose category id
the project's codebook gives (a taxonomy imported from this project), else the code with the
same name; a code found in none of these is added to the codebook (under its parent when the
parent is there). A project that already has a user of the run's coder's name is refused: merge
into the project as the tool exported it. With ``reviewed``, each reviewer's passages (accepted,
changed, resized, added) are added as the reviewer's user; a reviewer who is one of the
project's users (ana reviewed the model and coded in the tool) gets a user of their own, ``ana
(review)``, so the team's own passages stay apart.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from llmcode.errors import InterchangeError
from llmcode.interchange.refi.archive import (
    open_archive,
    project_member,
    project_root,
    read_member,
    source_names,
    source_text,
)
from llmcode.interchange.refi.codebook import (
    PALETTE,
    PROJECT_NS,
    code_guid,
    codes_to_taxonomy,
    describe,
    normal_guid,
    xml_text,
)
from llmcode.interchange.refi.marks import segment_passages
from llmcode.interchange.refi.project import run_passages
from llmcode.interchange.refi.selections import (
    PROJECT_ORDER,
    Passage,
    Selections,
    insert_child,
)
from llmcode.store.runs import Run
from llmcode.taxonomy.model import Category, Taxonomy

_P = f"{{{PROJECT_NS}}}"


@dataclass(frozen=True)
class MergeSummary:
    """What merging added; ``str()`` reads "added 49 passages (...) of test-model to 5 of 7..."."""

    output: Path
    users: tuple[str, ...]
    passages: int
    codings: int
    notes: int
    sources: int
    project_sources: int
    new_codes: tuple[str, ...]

    def __str__(self) -> str:
        text = (
            f"added {self.passages} passages ({self.codings} codings, {self.notes} notes) by "
            f"{', '.join(self.users)} to {self.sources} of {self.project_sources} sources"
        )
        if self.new_codes:
            text += f"; new codes: {', '.join(self.new_codes)}"
        return text + "; the project's own sources, users, codes and codings kept as they were"


def merge_project(
    run: Run, project: str | Path, output: str | Path, *, reviewed: bool = False
) -> MergeSummary:
    """Write ``output``: the project ``project`` with ``run``'s passages added (see above)."""
    project, output = Path(project), Path(output)
    if output.resolve() == project.resolve() or (
        output.exists() and project.exists() and output.samefile(project)
    ):
        raise InterchangeError(
            f"{output}: the output would overwrite the project merged into",
            hint="write the merged project to a new file (-o OTHER.qdpx); the project is never "
            "changed",
        )
    archive = open_archive(project)
    with archive:
        root = project_root(project, archive)
        member = project_member(project, archive)
        sources = dict(source_names(root))
        model = run.manifest().coder
        _refuse_known_users(project, root, {model})
        texts, shifts = _matched_texts(run, project, archive, sources)
        coded = {item.item_id: item.text for item in run.items()}
        known = _user_names(root)
        passages = [  # at the source's offsets; a reviewer who is one of the team: own user
            replace(
                p,
                start=p.start + shifts[p.item_id],
                end=p.end + shifts[p.item_id],
                coder=f"{p.coder} (review)" if p.coder in known and p.coder != model else p.coder,
            )
            for p in run_passages(run, coded, reviewed=reviewed)[0]
        ]
        taxonomy = run.taxonomy()
        codes = _CodeMap(project, root, taxonomy)
        used = dict.fromkeys(code for p in passages for code in p.codes)
        guids = {code: codes.guid(code) for code in used}
        selections = Selections(run_id=run.run_id, code_guid=guids.__getitem__)
        selections.user(model)  # the model first, then reviewers as their passages come
        by_item: dict[str, list[Passage]] = {}
        for passage in passages:
            by_item.setdefault(passage.item_id, []).append(passage)
        for item_id, found in by_item.items():
            selections.add(sources[item_id], texts[item_id], found)
        if run.manifest().config.inputs.unit == "segment":
            records = run.latest_codings()
            _, unplaced = segment_passages(records, coded, taxonomy, model)
            for lost in unplaced:
                selections.source_note(
                    sources[lost.item_id], lost.item_id, lost.coder, "passages not found", lost.text
                )
        _add_users(root, selections)
        if selections.notes:
            notes = _child(root, "Notes")
            notes.extend(selections.notes)
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        _write(project, archive, member, xml, output)
    return MergeSummary(
        output=output,
        users=tuple(selections.users),
        passages=selections.selections,
        codings=selections.codings,
        notes=len(selections.notes),
        sources=len(by_item),
        project_sources=len(sources),
        new_codes=tuple(codes.added),
    )


def _matched_texts(
    run: Run, project: Path, archive: zipfile.ZipFile, sources: dict[str, etree._Element]
) -> tuple[dict[str, str], dict[str, int]]:
    """Each run item's source text in the project, and how far the item's text lies into it:
    0 when they are the same, the leading whitespace when the item is the source's text
    stripped (as items read from a table are); any other difference is an error."""
    items = run.items()
    missing = [item.item_id for item in items if item.item_id not in sources]
    if missing:
        raise InterchangeError(
            f"{project}: no text source named {', '.join(repr(m) for m in missing[:10])}"
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            + f" (items of run {run.run_id})",
            hint="merge a run into the project its items came from (`import qdpx --items-out`, "
            "or the project as items)",
        )
    texts, shifts = {}, {}
    warnings: list[str] = []
    for item in items:
        text = source_text(project, archive, sources[item.item_id], warnings, item.item_id)
        if text == item.text:
            shifts[item.item_id] = 0
        elif text.strip() == item.text and item.text:
            shifts[item.item_id] = len(text) - len(text.lstrip())
        else:
            at = next(
                (i for i, (a, b) in enumerate(zip(text, item.text, strict=False)) if a != b),
                min(len(text), len(item.text)),
            )
            raise InterchangeError(
                f"{project}: source '{item.item_id}' is not the text run {run.run_id} coded "
                f"(they differ from character {at}; {len(text)} against {len(item.text)} "
                "characters)",
                hint="passages point into the text coded: merge into the project the items "
                "came from, unchanged",
            )
        texts[item.item_id] = text
    return texts, shifts


class _CodeMap:
    """The project's GUID for each code id of the run's taxonomy (added when not there)."""

    def __init__(self, project: Path, root: etree._Element, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.book = root.find(f"{_P}CodeBook")
        if self.book is None:
            self.book = etree.Element(f"{_P}CodeBook")
            insert_child(root, self.book, PROJECT_ORDER)
        self.codes = self.book.find(f"{_P}Codes")
        if self.codes is None:
            self.codes = etree.SubElement(self.book, f"{_P}Codes")
        self.elements = {normal_guid(c.get("guid", "")): c for c in self.codes.iter(f"{_P}Code")}
        self.by_id: dict[str, str] = {}
        if self.elements:
            read = codes_to_taxonomy(self.book, f"{project}:project.qde", default_name="project")
            for guid, ident in read.ids.items():
                self.by_id.setdefault(ident, guid)
        self.by_name: dict[str, list[str]] = {}
        for guid, element in self.elements.items():
            name = (element.get("name") or "").strip().casefold()
            self.by_name.setdefault(name, []).append(guid)
        self.added: list[str] = []

    def guid(self, code: str) -> str:
        """The GUID (as the project writes it) of the code ``code``."""
        category = self.taxonomy.get(code)
        if category is None:
            raise InterchangeError(f"code '{code}' is not in taxonomy {self.taxonomy.name}")
        found = self._find(category)
        if found is None:
            return self._add(category).get("guid", "")
        return self.elements[found].get("guid", "")

    def _find(self, category: Category) -> str | None:
        own = normal_guid(code_guid(self.taxonomy.name, category.id))
        if own in self.elements:
            return own
        if category.id in self.by_id:
            return self.by_id[category.id]
        named = self.by_name.get(category.name.strip().casefold(), [])
        return named[0] if len(named) == 1 else None

    def _add(self, category: Category) -> etree._Element:
        parent_category = _parent(self.taxonomy, category.id)
        if parent_category is None:
            parent = self.codes
            color = PALETTE[len(self.codes) % len(PALETTE)]
        else:
            parent = self.elements[normal_guid(self.guid(parent_category.id))]
            color = parent.get("color") or PALETTE[0]
        guid = code_guid(self.taxonomy.name, category.id)
        element = etree.SubElement(
            parent,
            f"{_P}Code",
            guid=guid,
            name=xml_text(category.name),
            isCodable="true" if category.codable else "false",
            color=color,
        )
        etree.SubElement(element, f"{_P}Description").text = describe(category)
        self.elements[normal_guid(guid)] = element
        self.added.append(category.id)
        return element


def _parent(taxonomy: Taxonomy, code: str) -> Category | None:
    """The category ``code`` is a child of (None for a top-level one)."""
    return next((c for c in taxonomy.walk() if any(k.id == code for k in c.children)), None)


def _user_names(root: etree._Element) -> set[str]:
    names = {u.get("name") or u.get("id") for u in root.iterfind(f"{_P}Users/{_P}User")}
    return {name for name in names if name}


def _refuse_known_users(project: Path, root: etree._Element, names: set[str]) -> None:
    clash = sorted(names & _user_names(root))
    if clash:
        raise InterchangeError(
            f"{project}: the project already has a user named {', '.join(clash)}",
            hint="merge into the project as the QDA tool exported it (a project merged into "
            "before already holds these passages)",
        )


def _add_users(root: etree._Element, selections: Selections) -> None:
    users = _child(root, "Users")
    for name, guid in selections.users.items():
        etree.SubElement(users, f"{_P}User", guid=guid, name=xml_text(name), id=name)


def _child(root: etree._Element, name: str) -> etree._Element:
    """The project's ``name`` element, made where the schema puts it if it has none."""
    found = root.find(f"{_P}{name}")
    if found is None:
        found = etree.Element(f"{_P}{name}")
        insert_child(root, found, PROJECT_ORDER)
    return found


def _write(project: Path, archive: zipfile.ZipFile, member: str, xml: bytes, output: Path) -> None:
    """Every member of the project as it was, ``member`` replaced by ``xml``; atomically."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as out:
            for info in archive.infolist():
                data = (
                    xml if info.filename == member else read_member(project, archive, info.filename)
                )
                copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                copy.compress_type = info.compress_type
                copy.external_attr = info.external_attr
                copy.comment = info.comment
                out.writestr(copy, data)
        tmp.replace(output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InterchangeError(f"{output}: cannot write the merged project ({exc})") from exc
