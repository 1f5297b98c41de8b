"""The ``.qdpx`` archive, read safely: its ``project.qde``, its members and its sources' texts.

Only members inside the archive are read: a source whose ``plainTextPath`` (or the project's
``basePath``) points at a file outside it is an error, never a read of the local disk. The
archive's expanded size is bounded (``MAX_EXPANDED_BYTES``), so a small zip cannot expand into
gigabytes of item text. A project whose GUIDs repeat (two elements with one GUID) is an error
naming the GUID, since every reference (CodeRef, NoteRef, creatingUser) would be ambiguous.

A source's plain text is its ``internal://`` member decoded as UTF-8; a leading byte-order mark
is not part of the text (selections count characters from the one after it), line ends are kept
as written (``\\r\\n`` is two characters). A source whose member is missing is an error naming it.
"""

from __future__ import annotations

import functools
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from lxml import etree

from llmcode.errors import InterchangeError
from llmcode.interchange.refi.codebook import PARSER, PROJECT_NS, normal_guid

MAX_EXPANDED_BYTES = 512 * 1024 * 1024
"""The most a project's members may expand to, together (the declared sizes are checked first)."""
_P = f"{{{PROJECT_NS}}}"


def open_archive(path: Path) -> zipfile.ZipFile:
    """The project's zip, or an error saying the file is missing or not a project."""
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InterchangeError(f"{path}: no such project file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InterchangeError(
            f"{path}: not a REFI-QDA project ({exc})",
            hint="a .qdpx file is a zip holding project.qde and sources/",
        ) from exc


def project_member(path: Path, archive: zipfile.ZipFile) -> str:
    """The name of the archive's ``.qde`` member."""
    names = [n for n in archive.namelist() if n.lower().endswith(".qde")]
    if not names:
        raise InterchangeError(f"{path}: no project.qde inside", hint="is this a .qdpx file?")
    return names[0]


def project_root(path: Path, archive: zipfile.ZipFile) -> etree._Element:
    """The parsed ``<Project>`` of the archive, its GUIDs checked to be unique."""
    name = project_member(path, archive)
    _check_expanded_size(path, archive)
    try:
        root = etree.fromstring(read_member(path, archive, name), PARSER)
    except etree.XMLSyntaxError as exc:
        raise InterchangeError(f"{path}: {name} is not valid XML ({exc})") from exc
    if root.tag != f"{_P}Project":
        raise InterchangeError(
            f"{path}: {name} has root <{etree.QName(root).localname}>, not a REFI-QDA Project",
            hint=f'expected <Project xmlns="{PROJECT_NS}">',
        )
    check_unique_guids(path, root)
    return root


def check_unique_guids(path: Path, root: etree._Element) -> None:
    """Every ``guid`` attribute names one element (braces and case ignored)."""
    seen: dict[str, etree._Element] = {}
    for element in root.iter():
        guid = element.get("guid") if isinstance(element.tag, str) else None
        if not guid:
            continue
        key = normal_guid(guid)
        first = seen.setdefault(key, element)
        if first is not element:
            raise InterchangeError(
                f"{path}: duplicate GUID {guid}: {describe_element(first)} and "
                f"{describe_element(element)}",
                hint="every element of a REFI-QDA project needs a GUID of its own; "
                "export the project from the QDA tool again",
            )


def describe_element(element: etree._Element) -> str:
    """``<Code name="Prompting">`` (the tag and its name, or its position when unnamed)."""
    tag = etree.QName(element).localname
    name = element.get("name")
    if name:
        return f'<{tag} name="{name}">'
    line = element.sourceline
    return f"<{tag}> at line {line}" if line else f"<{tag}>"


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


def source_text(
    path: Path,
    archive: zipfile.ZipFile,
    source: etree._Element,
    warnings: list[str],
    item_id: str,
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
            raise InterchangeError(
                f"{path}: source '{item_id}': its text {member} is missing from the archive",
                hint="export the project from the QDA tool again, with its sources",
            )
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
