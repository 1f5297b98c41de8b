"""REFI-QDA projects (``.qdpx``): a run's items, codes and rationales for ATLAS.ti, MAXQDA, NVivo...

Each item is a TextSource (its text in ``sources/<guid>.txt``, item metadata as Variables);
each verified evidence span is a PlainTextSelection [start, end) in characters of that text,
carrying a Coding to its code; a code without a verified span is coded on the whole text. The
model is its own User; every human coder or reviewer is another. A Coding has no place for a
rationale, so the justification, confidence and evidence status go into a Note it refers to.
GUIDs are uuid5 of run id, item id, coder and code: exporting a run twice gives the same file.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from lxml import etree

from llmcode import __version__
from llmcode.codes import load_codes
from llmcode.errors import InterchangeError
from llmcode.interchange.refi.codebook import (
    PROJECT_NS,
    code_guid,
    codes_element,
    sets_element,
    stable_guid,
    xml_text,
)
from llmcode.items import Item
from llmcode.llm.evidence import locate
from llmcode.store.decisions import reviewed_codes
from llmcode.store.models import CodingRecord, RunManifest
from llmcode.store.runs import Run
from llmcode.taxonomy.model import NONE_CODE, Taxonomy

STATUS_VARIABLE = "llmcode_status"
_P = f"{{{PROJECT_NS}}}"


@dataclass(frozen=True)
class ProjectSummary:
    """What an exported project holds; ``str()`` reads "12 sources, 7 codes, ..."."""

    sources: int
    codes: int
    codings: int
    notes: int
    users: int
    skipped: int = 0

    def __str__(self) -> str:
        text = (
            f"{self.sources} sources, {self.codes} codes, {self.codings} codings, "
            f"{self.notes} notes, {self.users} users"
        )
        if self.skipped:
            text += f" ({self.skipped} codes of items not in the run left out)"
        return text


@dataclass
class Mark:
    """One code one coder gave one item: where (spans) and why (note text)."""

    item_id: str
    coder: str
    code: str
    spans: list[tuple[int, int]]
    note: str = ""
    when: datetime | None = None


@dataclass
class _Project:
    """The elements of a project under construction, with running counts."""

    run_id: str
    taxonomy: Taxonomy
    users: dict[str, str] = field(default_factory=dict)  # name -> guid
    notes: list[etree._Element] = field(default_factory=list)
    note_guids: set[str] = field(default_factory=set)
    codings: int = 0

    def user(self, name: str) -> str:
        return self.users.setdefault(name, stable_guid("user", name))

    def note(self, key: tuple[str, ...], name: str, text: str, user: str, when: str | None) -> str:
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


def export_project(
    run: Run, output: str | Path, reviewed: bool = False, human: str | Path | None = None
) -> ProjectSummary:
    """Write ``run`` as a REFI-QDA project; with ``reviewed`` / ``human`` codes as more users."""
    manifest = run.manifest()
    taxonomy = run.taxonomy()
    items = run.items()
    texts = {item.item_id: item.text for item in items}
    model = manifest.coder
    records = run.latest_codings()
    marks = model_marks(records, texts, taxonomy, model)
    frames: list[tuple[str, pd.DataFrame]] = []
    if reviewed:
        frames.append(("reviewed codes", _reviewed_codes(run)))
    if human is not None:
        frames.append((str(human), _human_codes(Path(human))))
    skipped = 0
    for source, frame in frames:
        more, left_out = table_marks(frame, texts, taxonomy, source)
        marks += more
        skipped += left_out
    project = _Project(run_id=run.run_id, taxonomy=taxonomy)
    project.user(model)
    suggestions = _suggestions(records, project, model)
    by_item: dict[str, list[Mark]] = {}
    for mark in marks:
        by_item.setdefault(mark.item_id, []).append(mark)
    sources = [
        _source(item, manifest, by_item.get(item.item_id, []), project, suggestions)
        for item in items
    ]
    status = {item_id: record.status for item_id, record in records.items()}
    root = _root(manifest, project, sources, items, status)
    files = {f"sources/{stable_guid('source', run.run_id, i.item_id)}.txt": i.text for i in items}
    _write_zip(Path(output), root, files, manifest.created_at)
    return ProjectSummary(
        sources=len(items),
        codes=sum(1 for _ in taxonomy.walk()),
        codings=project.codings,
        notes=len(project.notes),
        users=len(project.users),
        skipped=skipped,
    )


def model_marks(
    records: dict[str, CodingRecord], texts: dict[str, str], taxonomy: Taxonomy, model: str
) -> list[Mark]:
    """The model's codes: verified spans (or the whole text) and a note with the rationale."""
    marks = []
    for record in records.values():
        text = texts.get(record.item_id)
        if text is None:
            continue
        for assignment in record.codes:
            if assignment.code == NONE_CODE or taxonomy.get(assignment.code) is None:
                continue
            spans = [
                (s.start, s.end)
                for s in assignment.evidence
                if s.verified and s.start is not None and s.end is not None
            ]
            lines = [
                f"coder: {model} (model)",
                f"code: {assignment.code}",
                f"status: {record.status}",
            ]
            if assignment.confidence is not None:
                lines.append(f"confidence: {assignment.confidence:.2f}")
            if assignment.justification:
                lines.append(f"justification: {assignment.justification}")
            for span in assignment.evidence:
                where = f"[{span.start}, {span.end})" if span.verified else "not found in the text"
                lines.append(f'evidence: "{span.quote}" {where}')
            if not spans:
                lines.append("no verified evidence span: coded on the whole text")
            marks.append(
                Mark(
                    record.item_id,
                    model,
                    assignment.code,
                    spans or [(0, len(text))],
                    "\n".join(lines),
                    record.finished_at,
                )
            )
    return marks


def table_marks(
    frame: pd.DataFrame, texts: dict[str, str], taxonomy: Taxonomy, source: str
) -> tuple[list[Mark], int]:
    """Marks from long-format codes; quotes in an ``evidence`` column become spans if found."""
    missing = [c for c in ("item_id", "coder", "code") if c not in frame.columns]
    if missing:
        raise InterchangeError(f"{source}: no column {', '.join(missing)}")
    marks, skipped = [], 0
    for number, row in enumerate(frame.to_dict("records"), start=2):
        code = row["code"]
        if not isinstance(code, str) or not code.strip() or code.strip() == NONE_CODE:
            continue
        item_id, coder, code = str(row["item_id"]), str(row["coder"]), code.strip()
        if taxonomy.get(code) is None:
            raise InterchangeError(
                f"{source}: row {number} (item {item_id}, coder {coder}): code '{code}' is not "
                f"in taxonomy {taxonomy.name} {taxonomy.version}",
                hint="use the category ids of the run's taxonomy",
            )
        text = texts.get(item_id)
        if text is None:
            skipped += 1
            continue
        spans = []
        for quote in str(row.get("evidence") or "").split(" | "):
            span = locate(quote, text) if quote.strip() else None
            if span is not None and span.verified and span.start is not None:
                spans.append((span.start, span.end or span.start))
        lines = [f"coder: {coder}", f"code: {code}"]
        for column in ("action", "memo", "justification"):
            if isinstance(row.get(column), str) and row[column].strip():
                lines.append(f"{column}: {row[column].strip()}")
        note = "\n".join(lines) if len(lines) > 2 else ""
        marks.append(Mark(item_id, coder, code, spans or [(0, len(text))], note))
    return marks, skipped


def _source(
    item: Item,
    manifest: RunManifest,
    marks: list[Mark],
    project: _Project,
    suggestions: dict[str, str],
) -> etree._Element:
    run_id = project.run_id
    guid = stable_guid("source", run_id, item.item_id)
    model_guid = project.user(manifest.coder)
    source = etree.Element(
        f"{_P}TextSource",
        guid=guid,
        name=xml_text(item.item_id),
        plainTextPath=f"internal://{guid}.txt",
        creatingUser=model_guid,
        creationDateTime=_when(manifest.created_at),
    )
    seen: set[tuple] = set()
    for mark in marks:
        user = project.user(mark.coder)
        when = _when(mark.when) if mark.when else None
        note = None
        if mark.note:
            label = f"{item.item_id} · {mark.code} · {mark.coder}"
            note = project.note((item.item_id, mark.coder, mark.code), label, mark.note, user, when)
        for start, end in mark.spans:
            key = (item.item_id, mark.coder, mark.code, str(start), str(end))
            if key in seen:
                continue
            seen.add(key)
            selection = etree.SubElement(
                source,
                f"{_P}PlainTextSelection",
                guid=stable_guid("selection", run_id, *key),
                name=xml_text(_label(item.text[start:end])),
                startPosition=str(start),
                endPosition=str(end),
                creatingUser=user,
            )
            coding = etree.SubElement(
                selection,
                f"{_P}Coding",
                guid=stable_guid("coding", run_id, *key),
                creatingUser=user,
            )
            if when:
                selection.set("creationDateTime", when)
                coding.set("creationDateTime", when)
            etree.SubElement(
                coding, f"{_P}CodeRef", targetGUID=code_guid(project.taxonomy.name, mark.code)
            )
            if note:
                etree.SubElement(coding, f"{_P}NoteRef", targetGUID=note)
            project.codings += 1
    if item.item_id in suggestions:
        etree.SubElement(source, f"{_P}NoteRef", targetGUID=suggestions[item.item_id])
    return source


def _suggestions(records: dict[str, CodingRecord], project: _Project, model: str) -> dict[str, str]:
    """Notes for items where the model found no category and suggested a new code."""
    out = {}
    for record in records.values():
        if record.suggested_code is None:
            continue
        suggestion = record.suggested_code
        text = f"coder: {model} (model)\nno category fits; suggested new code: {suggestion.name}"
        if suggestion.definition:
            text += f"\ndefinition: {suggestion.definition}"
        justification = next((c.justification for c in record.codes if c.code == NONE_CODE), "")
        if justification:
            text += f"\njustification: {justification}"
        out[record.item_id] = project.note(
            (record.item_id, model, NONE_CODE),
            f"{record.item_id} · suggested code",
            text,
            project.user(model),
            _when(record.finished_at),
        )
    return out


def _root(
    manifest: RunManifest,
    project: _Project,
    sources: list[etree._Element],
    items: list[Item],
    status: Mapping[str, str],
) -> etree._Element:
    model = manifest.coder
    text_columns = set(manifest.items.get("text_columns") or [])
    root = etree.Element(
        f"{_P}Project",
        nsmap={None: PROJECT_NS},
        name=f"llmcode {manifest.run_id}",
        origin=f"llmcode {__version__}",
        creatingUserGUID=project.user(model),
        creationDateTime=_when(manifest.created_at),
    )
    users = etree.SubElement(root, f"{_P}Users")
    for name, guid in project.users.items():
        etree.SubElement(
            users,
            f"{_P}User",
            guid=guid,
            name=xml_text(name),
            id="model" if name == model else name,
        )
    etree.SubElement(root, f"{_P}CodeBook").append(codes_element(project.taxonomy, PROJECT_NS))
    metadata = dict.fromkeys(k for i in items for k in i.metadata if k not in text_columns)
    columns = [STATUS_VARIABLE, *metadata]
    variables = etree.SubElement(root, f"{_P}Variables")
    guids = {}
    for column in columns:
        guids[column] = stable_guid("variable", manifest.run_id, column)
        etree.SubElement(
            variables,
            f"{_P}Variable",
            guid=guids[column],
            name=xml_text(column),
            typeOfVariable="Text",
        )
    sources_el = etree.SubElement(root, f"{_P}Sources")
    for item, source in zip(items, sources, strict=True):
        values = {STATUS_VARIABLE: status.get(item.item_id, "pending"), **item.metadata}
        for column in columns:
            if str(values.get(column, "")).strip():
                value = etree.SubElement(source, f"{_P}VariableValue")
                etree.SubElement(value, f"{_P}VariableRef", targetGUID=guids[column])
                etree.SubElement(value, f"{_P}TextValue").text = xml_text(str(values[column]))
        sources_el.append(source)
    if project.notes:
        etree.SubElement(root, f"{_P}Notes").extend(project.notes)
    root.append(sets_element(project.taxonomy, PROJECT_NS))
    etree.SubElement(root, f"{_P}Description").text = xml_text(_provenance(manifest))
    return root


def _provenance(manifest: RunManifest) -> str:
    config = manifest.config
    sampling = config.sampling
    lines = [
        f"Coded with llmcode {manifest.llmcode_version or __version__}, run {manifest.run_id} "
        f"({manifest.status}).",
        f"Model: {manifest.coder} "
        f"(backend {manifest.backend.get('backend', config.endpoint.backend)}, "
        f"temperature {sampling.temperature}, seed {sampling.seed}, "
        f"samples {sampling.samples}).",
        f"Taxonomy: {manifest.taxonomy.get('name')} {manifest.taxonomy.get('version')} "
        f"(fingerprint {manifest.taxonomy.get('fingerprint')}), level {config.inputs.level}.",
        f"Prompts: sha256 {manifest.prompts.get('sha256')}.",
        f"Items: {manifest.items.get('path')} (sha256 {manifest.items.get('sha256')}).",
        "The model's codes are by the user named after the model; each coding's note holds its "
        "justification, confidence and evidence. Codes without a verified quote cover the whole "
        "text.",
    ]
    return "\n".join(lines)


def _reviewed_codes(run: Run) -> pd.DataFrame:
    """Reviewed codes, a decision no person made under its own user ("ana (automatic)")."""
    frame = reviewed_codes(run)
    who = frame["decided_by"].map({"automatic": " (automatic)", "model": " (model)"}).fillna("")
    return frame.assign(coder=frame["coder"] + who)


def _human_codes(path: Path) -> pd.DataFrame:
    return load_codes(path)


def _when(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _label(quote: str, limit: int = 60) -> str:
    """A selection's name: its text on one line, shortened."""
    flat = " ".join(quote.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _write_zip(path: Path, root: etree._Element, files: dict[str, str], stamp: datetime) -> None:
    """The .qdpx zip: project.qde and sources/, with fixed timestamps (same run, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    date_time = stamp.astimezone(UTC).timetuple()[:6]
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in [("project.qde", xml), *((n, t.encode()) for n, t in files.items())]:
                info = zipfile.ZipInfo(name, date_time=date_time)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InterchangeError(f"{path}: cannot write the project ({exc})") from exc
