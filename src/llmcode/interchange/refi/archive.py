"""The ``.qdpx`` archive, read safely: its ``project.qde``, its members and its sources' texts.

The reading itself is `llmcode.qdpxfiles` (shared with items read from a project's sources:
``-i project.qdpx``); here it raises `InterchangeError`, and a project's GUIDs are checked to be
unique: a project whose GUIDs repeat (two elements with one GUID) is an error naming the GUID,
since every reference (CodeRef, NoteRef, creatingUser) would be ambiguous. Only members inside
the archive are read, within ``MAX_EXPANDED_BYTES``; a source's plain text is its
``internal://`` member decoded as UTF-8, a leading byte-order mark not part of it, line ends as
written (``\\r\\n`` is two characters); a missing member is an error naming it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from llmcode import qdpxfiles
from llmcode.errors import InterchangeError
from llmcode.interchange.refi.codebook import normal_guid
from llmcode.qdpxfiles import MAX_EXPANDED_BYTES, source_names

__all__ = [
    "MAX_EXPANDED_BYTES",
    "check_unique_guids",
    "describe_element",
    "open_archive",
    "project_member",
    "project_root",
    "read_member",
    "source_names",
    "source_text",
]


def open_archive(path: Path) -> zipfile.ZipFile:
    """The project's zip, or an error saying the file is missing or not a project."""
    return qdpxfiles.open_archive(path, InterchangeError)


def project_member(path: Path, archive: zipfile.ZipFile) -> str:
    """The name of the archive's ``.qde`` member."""
    return qdpxfiles.project_member(path, archive, InterchangeError)


def project_root(path: Path, archive: zipfile.ZipFile) -> etree._Element:
    """The parsed ``<Project>`` of the archive, its GUIDs checked to be unique."""
    root = qdpxfiles.project_xml(path, archive, InterchangeError)
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
    """``<Code name="Prompting">`` (the tag and its name, or its offsets and line when unnamed)."""
    tag = etree.QName(element).localname
    name = element.get("name")
    if name:
        return f'<{tag} name="{name}">'
    if element.get("startPosition") is not None:
        tag += f" [{element.get('startPosition')}, {element.get('endPosition')})"
    line = element.sourceline
    return f"<{tag}> at line {line}" if line else f"<{tag}>"


def read_member(path: Path, archive: zipfile.ZipFile, name: str) -> bytes:
    """One member's bytes, read no further than the archive's expansion bound."""
    return qdpxfiles.read_member(path, archive, name, InterchangeError)


def source_text(
    path: Path,
    archive: zipfile.ZipFile,
    source: etree._Element,
    warnings: list[str],
    item_id: str,
) -> str:
    """A TextSource's plain text: inline, or its ``internal://`` member (see the docstring)."""
    return qdpxfiles.source_text(path, archive, source, warnings, item_id, InterchangeError)
