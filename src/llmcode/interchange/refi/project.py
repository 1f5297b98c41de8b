"""REFI-QDA projects (``.qdpx``): a run's items, passages and rationales for QDA tools.

Each item is a TextSource (its text in ``sources/<guid>.txt``, ``internal://`` as MAXQDA and
ATLAS.ti write them; item metadata as Variables). A run coded in passages gives each passage as
a PlainTextSelection ``[startPosition, endPosition)`` with a Coding per code and a Note (the
justification, confidence and evidence check) the selection refers to; a run coded whole gives
each verified evidence span as a selection carrying a Coding to its code, and a code without a
verified span is coded on the whole text, its rationale in a Note its Coding refers to
(`llmcode.interchange.refi.marks`). The model is its own User; every human coder or reviewer is
another. The taxonomy is the codebook (hierarchy, colours, definitions). GUIDs are uuid5 of run
id, item id, coder and offsets: exporting a run twice gives the same file.

Positions count characters — Unicode code points — of the plain text as stored: the item's
text exactly, UTF-8, line ends as they are (``\r\n`` is two characters). The file has no
byte-order mark, except before a text that itself begins with U+FEFF: readers drop one leading
mark, so that text reads back whole.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
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
from llmcode.interchange.refi.marks import (
    item_passages,
    segment_passages,
    table_passages,
)
from llmcode.interchange.refi.selections import (
    Passage,
    Selections,
    join_passages,
    stamp,
)
from llmcode.items import Item
from llmcode.store.decisions import reviewed_codes
from llmcode.store.models import CodingRecord, RunManifest
from llmcode.store.reviewed_passages import reviewed_passages
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
    passages, skipped = run_passages(run, texts, reviewed=reviewed, human=human)
    selections = Selections(
        run_id=run.run_id, code_guid=lambda code: code_guid(taxonomy.name, code)
    )
    selections.user(model)
    suggestions = _suggestions(records, selections, model)
    by_item: dict[str, list[Passage]] = {}
    for passage in passages:
        by_item.setdefault(passage.item_id, []).append(passage)
    sources = []
    for item in items:
        source = _source(item, manifest, selections)
        selections.add(source, item.text, by_item.get(item.item_id, []))
        if item.item_id in suggestions:
            etree.SubElement(source, f"{_P}NoteRef", targetGUID=suggestions[item.item_id])
        sources.append(source)
    if manifest.config.inputs.unit == "segment":
        _, unplaced = segment_passages(records, texts, taxonomy, model)
        by_id = {item.item_id: source for item, source in zip(items, sources, strict=True)}
        for lost in unplaced:
            selections.source_note(
                by_id[lost.item_id], lost.item_id, lost.coder, "passages not found", lost.text
            )
    status = {item_id: record.status for item_id, record in records.items()}
    root = _root(manifest, selections, taxonomy, sources, items, status)
    files = {
        f"sources/{stable_guid('source', run.run_id, i.item_id)}.txt": plain_text(i.text)
        for i in items
    }
    _write_zip(Path(output), root, files, manifest.created_at)
    return ProjectSummary(
        sources=len(items),
        codes=sum(1 for _ in taxonomy.walk()),
        codings=selections.codings,
        notes=len(selections.notes),
        users=len(selections.users),
        skipped=skipped,
    )


def run_passages(
    run: Run,
    texts: dict[str, str],
    *,
    reviewed: bool = False,
    human: str | Path | None = None,
) -> tuple[list[Passage], int]:
    """The model's passages of ``run`` (and the reviewed / human codes asked for), joined per
    coder and offsets; with how many human rows name items not in the run."""
    manifest = run.manifest()
    taxonomy = run.taxonomy()
    records = run.latest_codings()
    if manifest.config.inputs.unit == "segment":
        passages, _ = segment_passages(records, texts, taxonomy, manifest.coder)
    else:
        passages = item_passages(records, texts, taxonomy, manifest.coder)
    frames: list[tuple[str, pd.DataFrame]] = []
    if reviewed and manifest.config.inputs.unit == "segment":
        frames.append(("reviewed passages", _reviewed_passages(run)))
    elif reviewed:
        frames.append(("reviewed codes", _reviewed_codes(run)))
    if human is not None:
        frames.append((str(human), load_codes(Path(human), texts=texts)))
    skipped = 0
    for source, frame in frames:
        more, left_out = table_passages(frame, texts, taxonomy, source)
        passages += more
        skipped += left_out
    return join_passages(passages), skipped


def plain_text(text: str) -> bytes:
    """A source's bytes: UTF-8, a byte-order mark only before a text starting with U+FEFF."""
    return (("\ufeff" if text.startswith("\ufeff") else "") + text).encode("utf-8")


def _source(item: Item, manifest: RunManifest, selections: Selections) -> etree._Element:
    guid = stable_guid("source", selections.run_id, item.item_id)
    return etree.Element(
        f"{_P}TextSource",
        guid=guid,
        name=xml_text(item.item_id),
        plainTextPath=f"internal://{guid}.txt",
        creatingUser=selections.user(manifest.coder),
        creationDateTime=stamp(manifest.created_at),
    )


def _suggestions(
    records: dict[str, CodingRecord], selections: Selections, model: str
) -> dict[str, str]:
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
        out[record.item_id] = selections.note(
            (record.item_id, model, NONE_CODE),
            f"{record.item_id} · suggested code",
            text,
            selections.user(model),
            stamp(record.finished_at),
        )
    return out


def _root(
    manifest: RunManifest,
    project: Selections,
    taxonomy: Taxonomy,
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
        creationDateTime=stamp(manifest.created_at),
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
    etree.SubElement(root, f"{_P}CodeBook").append(codes_element(taxonomy, PROJECT_NS))
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
    root.append(sets_element(taxonomy, PROJECT_NS))
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
        "The model's codes are by the user named after the model. "
        + (
            "Each passage is a selection with a coding per code; its note holds the "
            "justification, confidence and evidence check of its codes."
            if config.inputs.unit == "segment"
            else "Each coding's note holds its justification, confidence and evidence. Codes "
            "without a verified quote cover the whole text."
        ),
    ]
    return "\n".join(lines)


def _reviewed_codes(run: Run) -> pd.DataFrame:
    """Reviewed codes, a decision no person made under its own user ("ana (automatic)")."""
    frame = reviewed_codes(run)
    who = frame["decided_by"].map({"automatic": " (automatic)", "model": " (model)"}).fillna("")
    return frame.assign(coder=frame["coder"] + who)


def _reviewed_passages(run: Run) -> pd.DataFrame:
    """Each reviewer's passages (`reviewed_passages`), under users named as `_reviewed_codes`;
    a rejected or undecided passage gives a row only for its memo (`table_passages`)."""
    frame = reviewed_passages(run)
    who = frame["decided_by"].map({"automatic": " (automatic)", "model": " (model)"}).fillna("")
    return frame.assign(coder=frame["coder"] + who)


def _write_zip(path: Path, root: etree._Element, files: dict[str, bytes], moment: datetime) -> None:
    """The .qdpx zip: project.qde and sources/, with fixed timestamps (same run, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    date_time = moment.astimezone(UTC).timetuple()[:6]
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in [("project.qde", xml), *files.items()]:
                info = zipfile.ZipInfo(name, date_time=date_time)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InterchangeError(f"{path}: cannot write the project ({exc})") from exc
