"""Read REFI-QDA projects (``.qdpx``) from QDA tools: codings in long format, sources as items.

Every Coding of a text source becomes a row ``item_id, coder, code, evidence``: the item is the
source's name, the coder the name of the Coding's user (else the selection's, the source's or
the project's creator), the code the category id read from the project's codebook (the
``llmcode id`` line our exports write, else an id made from the code's name), and the evidence
the selected text (empty when the whole text is selected). A coder who codes an item twice with
one code gives one row. Non-text sources (PDF, pictures, audio) are skipped with a warning.

Only members inside the archive are read: a source whose ``plainTextPath`` (or the project's
``basePath``) points at a file outside it is an error, never a read of the local disk. The
archive's expanded size is bounded (``MAX_EXPANDED_BYTES``), so a small zip cannot expand into
gigabytes of item text.
"""

from __future__ import annotations

import functools
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd
from lxml import etree

from llmcode.errors import InterchangeError
from llmcode.interchange.refi.codebook import (
    PARSER,
    PROJECT_NS,
    codes_to_taxonomy,
    normal_guid,
    read_codebook,
)
from llmcode.taxonomy.model import Taxonomy

CODE_COLUMNS = ["item_id", "coder", "code", "evidence"]
_P = f"{{{PROJECT_NS}}}"
MAX_EXPANDED_BYTES = 512 * 1024 * 1024
"""The most a project's members may expand to, together (the declared sizes are checked first)."""
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
            f"{len(self.codes)} codes of {self.codes['item_id'].nunique()} items by "
            f"{self.codes['coder'].nunique()} coders ({coders}); {len(self.items)} sources"
        )


def read_project(path: str | Path, coders: list[str] | None = None) -> ImportedProject:
    """Read a ``.qdpx`` file; ``coders`` keeps only the codings of these user names."""
    path = Path(path)
    archive = _open_zip(path)
    with archive:
        root = _project_root(path, archive)
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
        rows, items = _read_sources(path, archive, root, users, ids, warnings)
        skipped = sum(len(root.findall(f"{_P}Sources/{_P}{kind}")) for kind in _OTHER_SOURCES)
        if skipped:
            warnings.append(f"{skipped} non-text sources (PDF, picture, audio, video) skipped")
    codes = _long_format(rows)
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
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Coding rows and item rows of every TextSource."""
    default_user = _user(users, root.get("creatingUserGUID"), "unknown")
    variables = {
        normal_guid(v.get("guid", "")): v.get("name", "")
        for v in root.iterfind(f"{_P}Variables/{_P}Variable")
    }
    rows: list[dict[str, str]] = []
    items: list[dict[str, str]] = []
    names: set[str] = set()
    for source in root.iterfind(f"{_P}Sources/{_P}TextSource"):
        item_id = _unique(source.get("name") or source.get("guid", "source"), names)
        text = _source_text(path, archive, root, source, warnings, item_id)
        owner = _user(users, source.get("creatingUser"), default_user)
        items.append({"item_id": item_id, "text": text, **_values(source, variables)})
        for coding, selection in _codings(source):
            ref = coding.find(f"{_P}CodeRef")
            target = normal_guid(ref.get("targetGUID", "")) if ref is not None else ""
            if target not in ids:
                raise InterchangeError(
                    f"{path}: source '{item_id}' is coded with code {target or '(none)'}, "
                    "which is not in the project's codebook"
                )
            if selection is not None:
                owner_here = _user(users, selection.get("creatingUser"), owner)
            else:
                owner_here = owner
            rows.append(
                {
                    "item_id": item_id,
                    "coder": _user(users, coding.get("creatingUser"), owner_here),
                    "code": ids[target],
                    "evidence": _selected(selection, text, f"{path}: source '{item_id}'"),
                }
            )
    return rows, items


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InterchangeError(f"{path}: no such project file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InterchangeError(
            f"{path}: not a REFI-QDA project ({exc})",
            hint="a .qdpx file is a zip holding project.qde and sources/",
        ) from exc


def _project_root(path: Path, archive: zipfile.ZipFile) -> etree._Element:
    names = [n for n in archive.namelist() if n.lower().endswith(".qde")]
    if not names:
        raise InterchangeError(f"{path}: no project.qde inside", hint="is this a .qdpx file?")
    _check_expanded_size(path, archive)
    try:
        root = etree.fromstring(read_member(path, archive, names[0]), PARSER)
    except etree.XMLSyntaxError as exc:
        raise InterchangeError(f"{path}: {names[0]} is not valid XML ({exc})") from exc
    if root.tag != f"{_P}Project":
        raise InterchangeError(
            f"{path}: {names[0]} has root <{etree.QName(root).localname}>, not a REFI-QDA Project",
            hint=f'expected <Project xmlns="{PROJECT_NS}">',
        )
    return root


def _user(users: dict[str, str], guid: str | None, fallback: str) -> str:
    if not guid:
        return fallback
    return users.get(normal_guid(guid), fallback)


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name} ({number})", number + 1
    taken.add(candidate)
    return candidate


def _source_text(
    path: Path,
    archive: zipfile.ZipFile,
    root: etree._Element,
    source: etree._Element,
    warnings: list[str],
    item_id: str,
) -> str:
    inline = source.find(f"{_P}PlainTextContent")
    if inline is not None:
        return inline.text or ""
    location = source.get("plainTextPath") or ""
    if location.startswith("internal://"):
        member = str(PurePosixPath("sources") / location.removeprefix("internal://"))
        name = _member(archive, member)
        if name is None:
            warnings.append(f"source '{item_id}': {member} is missing from {path.name}")
            return ""
        data = read_member(path, archive, name)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InterchangeError(f"{path}: {name} is not UTF-8 text ({exc.reason})") from exc
    if location:
        raise InterchangeError(
            f"{path}: source '{item_id}' points outside the archive ({location[:200]}); "
            "only sources inside the .qdpx are read",
            hint="export the project with its sources inside (internal://), as QDA tools do",
        )
    warnings.append(f"source '{item_id}': no plain text (no path)")
    return ""


def read_member(path: Path, archive: zipfile.ZipFile, name: str) -> bytes:
    """One member's bytes, read no further than the archive's expansion bound."""
    try:
        with archive.open(name) as handle:
            data = handle.read(MAX_EXPANDED_BYTES + 1)
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        zlib.error,
    ) as exc:
        raise InterchangeError(f"{path}: cannot read {name} ({exc})") from exc
    if len(data) > MAX_EXPANDED_BYTES:
        raise _too_big(path)
    return data


def _check_expanded_size(path: Path, archive: zipfile.ZipFile) -> None:
    if sum(info.file_size for info in archive.infolist()) > MAX_EXPANDED_BYTES:
        raise _too_big(path)


def _too_big(path: Path) -> InterchangeError:
    return InterchangeError(
        f"{path}: the archive would expand to more than {MAX_EXPANDED_BYTES} bytes",
        hint="a project of text sources is far smaller; is this a zip bomb?",
    )


def _member(archive: zipfile.ZipFile, wanted: str) -> str | None:
    """The archive member named ``wanted``, ignoring case (tools write Sources/ or sources/)."""
    try:
        archive.getinfo(wanted)
    except KeyError:
        return _lowered_names(archive).get(wanted.lower())
    return wanted


@functools.lru_cache(maxsize=2)
def _lowered_names(archive: zipfile.ZipFile) -> dict[str, str]:
    return {name.lower(): name for name in archive.namelist()}


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


def _selected(selection: etree._Element | None, text: str, where: str = "") -> str:
    """The quoted passage of a selection ("" for the whole source); positions that are not
    whole numbers are an error naming the source, never a whole-source coding."""
    if selection is None or not text:
        return ""
    try:
        start, end = (
            int(selection.get("startPosition", "0")),
            int(selection.get("endPosition", "0")),
        )
    except ValueError:
        raise InterchangeError(
            f"{where}: selection {selection.get('name') or selection.get('guid', '')} has "
            f"startPosition={selection.get('startPosition')!r}, "
            f"endPosition={selection.get('endPosition')!r}: not character positions",
            hint="fix the selection in the QDA tool and export the project again",
        ) from None
    if start <= 0 and end >= len(text):
        return ""
    return text[max(start, 0) : min(end, len(text))]


def _long_format(rows: list[dict[str, str]]) -> pd.DataFrame:
    """One row per (item, coder, code); the evidence of repeated codings joined with `` | ``."""
    merged: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        quotes = merged.setdefault((row["item_id"], row["coder"], row["code"]), [])
        if row["evidence"] and row["evidence"] not in quotes:
            quotes.append(row["evidence"])
    return pd.DataFrame(
        [[*key, " | ".join(quotes)] for key, quotes in merged.items()], columns=CODE_COLUMNS
    )


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
