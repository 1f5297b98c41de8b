"""Documents as items: the text of ``.txt``, ``.md``, ``.docx`` and ``.pdf`` files.

Owns reading one file, or every document file of a folder (not its subfolders; in name order),
into (id, text) pairs; the id is the file name without its suffix. The text is what character
offsets of passages refer to, so it is kept as the file has it: plain text and Markdown are read
as UTF-8 with their line ends untouched (only a byte-order mark is dropped); a Word document is its
paragraphs (table rows as tab-separated cells) joined by blank lines, in document order
(python-docx); a PDF is its pages' text, as pypdf extracts it, joined by blank lines. A document
that cannot be read — not UTF-8, a corrupt ``.docx``, an encrypted or broken PDF, no text at all
(a scanned PDF needs OCR first) — is recorded as skipped with the reason, naming the file, and the
others go on; `ItemsError` is raised only when nothing can be read at all.

A REFI-QDA project (``.qdpx``, as ATLAS.ti, MAXQDA, NVivo and QualCoder export it) is one
document per text source (`read_project_sources`): the id is the source's name, the text exactly
the plain text stored in the archive (offsets are REFI positions). A folder's ``.qdpx`` files
are not read; give the project itself.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

from llmcode import qdpxfiles
from llmcode.errors import ItemsError

DOCUMENT_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
PROJECT_SUFFIX = ".qdpx"
"""A REFI-QDA project given as items: one document per text source."""


@dataclass(frozen=True)
class Documents:
    """Documents read (id, text, file), those skipped (id, reason), a digest of their bytes."""

    texts: list[tuple[str, str, Path]]
    skipped: list[tuple[str, str]]
    sha256: str


class UnreadableDocument(Exception):
    """One file's text cannot be extracted; the message says why."""


def is_document_source(path: Path) -> bool:
    """A folder, a file whose suffix is a document's, or a REFI-QDA project."""
    return path.is_dir() or path.suffix.lower() in (*DOCUMENT_SUFFIXES, PROJECT_SUFFIX)


def read_documents(path: str | Path) -> Documents:
    """The documents of a file or folder, or the text sources of a project (see the module
    docstring)."""
    path = Path(path)
    if path.suffix.lower() == PROJECT_SUFFIX and not path.is_dir():
        return read_project_sources(path)
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
        documents = [p for p in files if p.suffix.lower() in DOCUMENT_SUFFIXES]
        if not documents:
            raise ItemsError(
                f"{path}: no documents in the folder",
                hint=f"a folder of documents holds {', '.join(DOCUMENT_SUFFIXES)} files",
            )
    elif path.is_file():
        documents = [path]
    else:
        raise ItemsError(f"{path}: no such file or folder")
    _check_unique_ids(documents)
    texts: list[tuple[str, str, Path]] = []
    skipped: list[tuple[str, str]] = []
    digest = hashlib.sha256()
    for document in documents:
        data = document.read_bytes()
        digest.update(document.name.encode() + b"\0" + hashlib.sha256(data).digest())
        try:
            text = document_text(document, data)
        except UnreadableDocument as exc:
            skipped.append((document.stem, f"{document}: {exc}"))
            continue
        texts.append((document.stem, text, document))
    if not texts:
        reasons = "; ".join(reason for _, reason in skipped[:5])
        raise ItemsError(
            f"{path}: no document could be read ({reasons})",
            hint="text-based PDFs, .docx, or UTF-8 .txt/.md files",
        )
    return Documents(texts=texts, skipped=skipped, sha256=digest.hexdigest())


def read_project_sources(path: Path) -> Documents:
    """The text sources of a REFI-QDA project (``.qdpx``), one document each, in the project's
    order: the id is the source's name (as ``import qdpx`` names it: its GUID when it has no
    name, " (2)" after a repeated one), the text exactly the plain text the archive holds, so
    offsets are REFI positions. Only members inside the archive are read (`llmcode.qdpxfiles`);
    a source without text, or whose text cannot be read, is skipped naming it."""
    archive = qdpxfiles.open_archive(path)
    with archive:
        root = qdpxfiles.project_xml(path, archive)
        texts: list[tuple[str, str, Path]] = []
        skipped: list[tuple[str, str]] = []
        for item_id, source in qdpxfiles.source_names(root):
            notes: list[str] = []
            try:
                text = qdpxfiles.source_text(path, archive, source, notes, item_id)
            except ItemsError as exc:
                skipped.append((item_id, exc.message))
                continue
            if not text.strip():
                skipped.append((item_id, f"{path}: source '{item_id}': no text in it"))
                continue
            texts.append((item_id, text, path))
    if not texts:
        reasons = "; ".join(reason for _, reason in skipped[:5]) or "it has no text sources"
        raise ItemsError(
            f"{path}: no source of the project could be read ({reasons})",
            hint="export the project from the QDA tool with its text sources inside",
        )
    return Documents(
        texts=texts, skipped=skipped, sha256=hashlib.sha256(path.read_bytes()).hexdigest()
    )


def document_text(path: Path, data: bytes | None = None) -> str:
    """The text of one document; `UnreadableDocument` says why there is none."""
    data = path.read_bytes() if data is None else data
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):
        text = _plain_text(data)
    elif suffix == ".docx":
        text = _docx_text(data)
    elif suffix == ".pdf":
        text = _pdf_text(data)
    else:
        raise UnreadableDocument(
            f"not a document ({path.suffix or 'no suffix'}); use {', '.join(DOCUMENT_SUFFIXES)}"
        )
    if not text.strip():
        raise UnreadableDocument(
            "no text in it" + (" (a scanned PDF needs OCR first)" if suffix == ".pdf" else "")
        )
    return text


def _plain_text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    return text.removeprefix("\ufeff")


def _docx_text(data: bytes) -> str:
    import io

    import docx  # python-docx, imported when a Word document is read

    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, docx.table.Table):
                for row in block.rows:
                    paragraphs.append("\t".join(cell.text for cell in row.cells))
            else:
                paragraphs.append(block.text)
    except Exception as exc:  # a corrupt package: zipfile, lxml, KeyError, python-docx errors
        raise UnreadableDocument(f"cannot read as .docx ({type(exc).__name__}: {exc})") from exc
    return "\n\n".join(p for p in paragraphs if p.strip())


def _pdf_text(data: bytes) -> str:
    import io

    import pypdf  # imported when a PDF is read

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnreadableDocument("an encrypted PDF (it needs a password); decrypt it first")
            pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableDocument:
        raise
    except Exception as exc:  # pypdf raises many types for broken or encrypted files
        reason = f"{type(exc).__name__}: {exc}"
        if "crypt" in reason.lower() or "password" in reason.lower():
            raise UnreadableDocument(f"an encrypted PDF ({reason}); decrypt it first") from exc
        raise UnreadableDocument(f"cannot read as PDF ({reason})") from exc
    return "\n\n".join(page.strip() for page in pages if page.strip())


def _check_unique_ids(files: list[Path]) -> None:
    by_id: dict[str, list[str]] = {}
    for file in files:
        by_id.setdefault(file.stem, []).append(file.name)
    clashes = [names for names in by_id.values() if len(names) > 1]
    if clashes:
        raise ItemsError(
            "documents with the same name would share an item id: "
            + "; ".join(", ".join(names) for names in clashes[:5]),
            hint="rename one of them (the id is the file name without its suffix)",
        )
