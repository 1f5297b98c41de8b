"""The ``.qdpx`` archive (REFI-QDA project), read safely: its members, its ``project.qde``, the
plain texts of its sources.

Below items and interchange alike: `llmcode.documents` reads a project's text sources as items
(``-i project.qdpx``) and `llmcode.interchange.refi` reads whole projects, both through these
functions, each raising its own error type (``error``). Only members inside the archive are
read: a source whose ``plainTextPath`` points at a file outside it is an error, never a read of
the local disk. The archive's expanded size is bounded (``MAX_EXPANDED_BYTES``), so a small zip
cannot expand into gigabytes of text; XML is parsed without entities or network access.

A source's plain text is its inline ``PlainTextContent`` or its ``internal://`` member decoded
as UTF-8; a leading byte-order mark is not part of the text (selections count characters from
the one after it), line ends are kept as written (``\\r\\n`` is two characters). A source whose
member is missing is an error naming it. A source's id is its name, else its GUID, made unique
with " (2)", " (3)" in document order (`source_names`).
"""

from __future__ import annotations

import functools
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from lxml import etree

from llmcode.errors import ItemsError, LlmcodeError

PROJECT_NS = "urn:QDA-XML:project:1.0"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
"""The XML parser of every REFI file: no entities resolved, no network."""
MAX_EXPANDED_BYTES = 512 * 1024 * 1024
"""The most a project's members may expand to, together (the declared sizes are checked first)."""
_P = f"{{{PROJECT_NS}}}"
Error = type[LlmcodeError]


def open_archive(path: Path, error: Error = ItemsError) -> zipfile.ZipFile:
    """The project's zip, or an error saying the file is missing or not a project."""
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise error(f"{path}: no such project file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise error(
            f"{path}: not a REFI-QDA project ({exc})",
            hint="a .qdpx file is a zip holding project.qde and sources/",
        ) from exc


def project_member(path: Path, archive: zipfile.ZipFile, error: Error = ItemsError) -> str:
    """The name of the archive's ``.qde`` member."""
    names = [n for n in archive.namelist() if n.lower().endswith(".qde")]
    if not names:
        raise error(f"{path}: no project.qde inside", hint="is this a .qdpx file?")
    return names[0]


def project_xml(path: Path, archive: zipfile.ZipFile, error: Error = ItemsError) -> etree._Element:
    """The parsed ``<Project>`` of the archive (its expanded size checked first)."""
    name = project_member(path, archive, error)
    if sum(info.file_size for info in archive.infolist()) > MAX_EXPANDED_BYTES:
        raise too_big(path, error)
    try:
        root = etree.fromstring(read_member(path, archive, name, error), PARSER)
    except etree.XMLSyntaxError as exc:
        raise error(f"{path}: {name} is not valid XML ({exc})") from exc
    if root.tag != f"{_P}Project":
        raise error(
            f"{path}: {name} has root <{etree.QName(root).localname}>, not a REFI-QDA Project",
            hint=f'expected <Project xmlns="{PROJECT_NS}">',
        )
    return root


def read_member(
    path: Path, archive: zipfile.ZipFile, name: str, error: Error = ItemsError
) -> bytes:
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
        raise error(f"{path}: cannot read {name} ({exc})") from exc
    if len(data) > MAX_EXPANDED_BYTES:
        raise too_big(path, error)
    return data


def source_text(
    path: Path,
    archive: zipfile.ZipFile,
    source: etree._Element,
    warnings: list[str],
    item_id: str,
    error: Error = ItemsError,
) -> str:
    """A TextSource's plain text: inline, or its ``internal://`` member (see the docstring)."""
    inline = source.find(f"{_P}PlainTextContent")
    if inline is not None:
        return inline.text or ""
    location = source.get("plainTextPath") or ""
    if location.startswith("internal://"):
        member = str(PurePosixPath("sources") / location.removeprefix("internal://"))
        name = _member(archive, member)
        if name is None:
            raise error(
                f"{path}: source '{item_id}': its text {member} is missing from the archive",
                hint="export the project from the QDA tool again, with its sources",
            )
        data = read_member(path, archive, name, error)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise error(f"{path}: {name} is not UTF-8 text ({exc.reason})") from exc
    if location:
        raise error(
            f"{path}: source '{item_id}' points outside the archive ({location[:200]}); "
            "only sources inside the .qdpx are read",
            hint="export the project with its sources inside (internal://), as QDA tools do",
        )
    warnings.append(f"source '{item_id}': no plain text (no path)")
    return ""


def source_names(root: etree._Element) -> list[tuple[str, etree._Element]]:
    """Each TextSource with its item id: its name (else GUID), made unique with " (2)"."""
    taken: set[str] = set()
    out = []
    for source in root.iterfind(f"{_P}Sources/{_P}TextSource"):
        name = source.get("name") or source.get("guid", "source")
        candidate, number = name, 2
        while candidate in taken:
            candidate, number = f"{name} ({number})", number + 1
        taken.add(candidate)
        out.append((candidate, source))
    return out


def too_big(path: Path, error: Error = ItemsError) -> LlmcodeError:
    return error(
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
