"""Read REFI-QDA projects (``.qdpx``): coded passages in long format, sources as items.

Every Coding of a text source becomes a row ``item_id, coder, code, start, end, evidence``: the
item is the source's name, the coder the name of the Coding's user (else the selection's, the
source's or the project's creator), the code the category id read from the project's codebook
(the ``llmcode id`` line our exports write, else an id made from the code's name), ``start, end``
the selection's ``[startPosition, endPosition)`` in characters (Unicode code points) of the
source's plain text, and the evidence the selected text. A Coding of the whole source (no
selection) is the passage ``[0, len(text))``; its evidence, like that of a selection of the whole
text, is empty. A selection that does not lie inside its source's text (negative, past its end,
or ``start >= end``) is an error naming the source and the selection, as is a coding whose code
is not in the codebook. One coder's overlapping passages with one code are merged into one (a
codes file holds them so; the import warns how many). Non-text sources (PDF, pictures, audio)
are skipped with a warning. Reading the archive itself (bounds, sources inside it only, unique
GUIDs) is `llmcode.interchange.refi.archive`'s.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from lxml import etree

from llmcode.errors import InterchangeError
from llmcode.interchange.refi.archive import (
    open_archive,
    project_root,
    source_names,
    source_text,
)
from llmcode.interchange.refi.codebook import (
    PROJECT_NS,
    codes_to_taxonomy,
    normal_guid,
    read_codebook,
)
from llmcode.taxonomy.model import Taxonomy

CODE_COLUMNS = ["item_id", "coder", "code", "start", "end", "evidence"]
_P = f"{{{PROJECT_NS}}}"
_OTHER_SOURCES = ("PictureSource", "PDFSource", "AudioSource", "VideoSource")


@dataclass
class ImportedProject:
    """Codes (long format) and items read from a project, its codebook, and what was skipped."""

    codes: pd.DataFrame
    items: pd.DataFrame
    taxonomy: Taxonomy | None
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        coders = ", ".join(sorted(self.codes["coder"].unique())) or "none"
        return (
            f"{len(self.codes)} coded passages of {self.codes['item_id'].nunique()} items by "
            f"{self.codes['coder'].nunique()} coders ({coders}); {len(self.items)} sources"
        )


@dataclass(frozen=True)
class _Coded:
    """One coding as read: a code on ``[start, end)`` of a source by a coder."""

    item: int  # the source's position
    item_id: str
    coder: str
    code: str
    start: int
    end: int
    whole: bool  # a Coding of the source itself, or a selection of all its text


def read_project(path: str | Path, coders: list[str] | None = None) -> ImportedProject:
    """Read a ``.qdpx`` file; ``coders`` keeps only the codings of these user names."""
    path = Path(path)
    archive = open_archive(path)
    with archive:
        root = project_root(path, archive)
        warnings: list[str] = []
        users = {
            normal_guid(u.get("guid", "")): u.get("name") or u.get("id") or u.get("guid", "")
            for u in root.iterfind(f"{_P}Users/{_P}User")
        }
        book = root.find(f"{_P}CodeBook")
        taxonomy, ids = None, {}
        if book is not None:
            imported = codes_to_taxonomy(
                book, f"{path}:project.qde", default_name=path.stem, sets=root
            )
            taxonomy, ids = imported.taxonomy, imported.ids
            warnings += imported.warnings
        coded, items = _read_sources(path, archive, root, users, ids, warnings)
        skipped = sum(len(root.findall(f"{_P}Sources/{_P}{kind}")) for kind in _OTHER_SOURCES)
        if skipped:
            warnings.append(f"{skipped} non-text sources (PDF, picture, audio, video) skipped")
    texts = [str(item["text"]) for item in items]
    codes = _long_format(coded, texts, warnings)
    if coders:
        unknown = sorted(set(coders) - set(codes["coder"]))
        if unknown:
            raise InterchangeError(
                f"{path}: no codings by {', '.join(unknown)}",
                hint=f"coders in this project: {', '.join(sorted(set(codes['coder']))) or 'none'}",
            )
        codes = codes[codes["coder"].isin(coders)].reset_index(drop=True)
    return ImportedProject(
        codes=codes, items=pd.DataFrame(items), taxonomy=taxonomy, warnings=warnings
    )


def _read_sources(
    path: Path,
    archive: zipfile.ZipFile,
    root: etree._Element,
    users: dict[str, str],
    ids: dict[str, str],
    warnings: list[str],
) -> tuple[list[_Coded], list[dict[str, str]]]:
    """The codings and the item rows of every TextSource."""
    default_user = _user(users, root.get("creatingUserGUID"), "unknown")
    variables = {
        normal_guid(v.get("guid", "")): v.get("name", "")
        for v in root.iterfind(f"{_P}Variables/{_P}Variable")
    }
    coded: list[_Coded] = []
    items: list[dict[str, str]] = []
    for position, (item_id, source) in enumerate(source_names(root)):
        text = source_text(path, archive, source, warnings, item_id)
        if text[:1].isspace():
            lead = len(text) - len(text.lstrip())
            warnings.append(
                f"source '{item_id}' begins with {lead} blank characters: items read from a table "
                f"are stripped, so a run coding them counts offsets {lead} less than the project "
                "(code the project itself, -i project.qdpx, to keep them)"
            )
        owner = _user(users, source.get("creatingUser"), default_user)
        items.append({"item_id": item_id, "text": text, **_values(source, variables)})
        where = f"{path}: source '{item_id}'"
        for coding, selection in _codings(source):
            ref = coding.find(f"{_P}CodeRef")
            target = normal_guid(ref.get("targetGUID", "")) if ref is not None else ""
            if target not in ids:
                what = f"selection {_name(selection)}" if selection is not None else "the source"
                raise InterchangeError(
                    f"{where}: {what} is coded with code {target or '(none)'}, which is not in "
                    "the project's codebook",
                    hint="a Coding's CodeRef must name a Code of the project's CodeBook",
                )
            owner_here = owner
            if selection is not None:
                owner_here = _user(users, selection.get("creatingUser"), owner)
                start, end = _positions(selection, text, where)
            else:
                start, end = 0, len(text)
            coded.append(
                _Coded(
                    item=position,
                    item_id=item_id,
                    coder=_user(users, coding.get("creatingUser"), owner_here),
                    code=ids[target],
                    start=start,
                    end=end,
                    whole=start == 0 and end == len(text),
                )
            )
    return coded, items


def _user(users: dict[str, str], guid: str | None, fallback: str) -> str:
    if not guid:
        return fallback
    return users.get(normal_guid(guid), fallback)


def _values(source: etree._Element, variables: dict[str, str]) -> dict[str, str]:
    out = {}
    for value in source.iterfind(f"{_P}VariableValue"):
        ref = value.find(f"{_P}VariableRef")
        name = variables.get(normal_guid(ref.get("targetGUID", ""))) if ref is not None else None
        if name and name not in ("item_id", "text"):
            out[name] = next((child.text or "" for child in value if child is not ref), "")
    return out


def _codings(source: etree._Element):
    for coding in source.iterfind(f"{_P}Coding"):
        yield coding, None
    for selection in source.iterfind(f"{_P}PlainTextSelection"):
        for coding in selection.iterfind(f"{_P}Coding"):
            yield coding, selection


def _name(selection: etree._Element) -> str:
    return selection.get("guid") or selection.get("name") or "(no guid)"


def _positions(selection: etree._Element, text: str, where: str) -> tuple[int, int]:
    """A selection's ``[start, end)``, checked to lie inside the text; anything else (positions
    that are not whole numbers, outside the text, empty) is an error naming the selection."""
    raw = selection.get("startPosition"), selection.get("endPosition")
    hint = "fix the selection in the QDA tool and export the project again"
    try:
        start, end = int(raw[0] or ""), int(raw[1] or "")
    except ValueError:
        raise InterchangeError(
            f"{where}: selection {_name(selection)} has startPosition={raw[0]!r}, "
            f"endPosition={raw[1]!r}: not character positions",
            hint=hint,
        ) from None
    if start < 0 or end > len(text) or start >= end:
        problem = (
            f"ends past the end of the source's text ({len(text)} characters)"
            if end > len(text)
            else "starts before the text"
            if start < 0
            else "is empty (start is not before end)"
        )
        astral = sum(1 for ch in text if ord(ch) > 0xFFFF)
        if astral and end > len(text) and end <= len(text) + astral:
            hint += (
                f"; the text has {astral} characters outside the Basic Multilingual Plane (emoji): "
                "a tool that counts UTF-16 units counts each twice, llmcode counts characters"
            )
        raise InterchangeError(
            f"{where}: selection {_name(selection)} [{start}, {end}) {problem}",
            hint=hint + " (positions count characters of the plain text, end exclusive)",
        )
    return start, end


def _long_format(coded: list[_Coded], texts: list[str], warnings: list[str]) -> pd.DataFrame:
    """One row per passage and code; one coder's overlapping passages of one code merged."""
    groups: dict[tuple[int, str, str], list[_Coded]] = {}
    for one in coded:
        groups.setdefault((one.item, one.coder, one.code), []).append(one)
    rows: list[tuple[int, str, str, int, int, bool]] = []
    merged = 0
    for (item, coder, code), group in groups.items():
        spans = sorted({(c.start, c.end, c.whole) for c in group})
        current: list = []
        for start, end, whole in spans:
            if current and start < current[1]:  # overlaps the passage before: one passage
                current[1] = max(current[1], end)
                current[2] = current[2] or whole
                merged += 1
                continue
            if current:
                rows.append((item, coder, code, current[0], current[1], current[2]))
            current = [start, end, whole]
        rows.append((item, coder, code, current[0], current[1], current[2]))
    if merged:
        warnings.append(
            f"{merged} overlapping passages of one coder with one code merged into the passage "
            "they overlap"
        )
    rows.sort(key=lambda r: (r[0], r[3], r[4]))
    frame = pd.DataFrame(
        [
            {
                "item_id": group[0].item_id,
                "coder": coder,
                "code": code,
                "start": start if texts[item] else None,
                "end": end if texts[item] else None,
                "evidence": "" if whole else texts[item][start:end],
            }
            for item, coder, code, start, end, whole in rows
            for group in [groups[(item, coder, code)]]
        ],
        columns=CODE_COLUMNS,
    )
    for name in ("start", "end"):
        frame[name] = frame[name].astype("Int64")
    return frame


def read_taxonomy(path: str | Path, name: str | None = None) -> tuple[Taxonomy, list[str]]:
    """The taxonomy of a ``.qdpx`` project's codebook, or of a ``.qdc`` codebook (``name`` when
    it has none), with the warnings of reading it."""
    path = Path(path)
    if path.suffix.lower() == ".qdpx":
        imported = read_project(path)
        if imported.taxonomy is None:
            raise InterchangeError(f"{path}: the project has no codebook")
        return imported.taxonomy, imported.warnings
    result = read_codebook(path, name=name)
    return result.taxonomy, result.warnings
