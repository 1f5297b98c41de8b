"""REFI-QDA interchange with ATLAS.ti, MAXQDA, NVivo, QualCoder and other QDA tools.

The work is split by file kind: ``refi_codebook`` (``.qdc`` codebooks and stable GUIDs),
``refi_project`` (writing a run as a ``.qdpx`` project) and ``refi_import`` (reading the
codings of a ``.qdpx`` project back in long format). This module is their public face.
"""

from __future__ import annotations

from llmcode.interchange.refi.codebook import (
    CodebookImport,
    code_guid,
    codebook_xml,
    read_codebook,
    stable_guid,
    write_codebook,
)
from llmcode.interchange.refi.importer import ImportedProject, read_project, read_taxonomy
from llmcode.interchange.refi.project import ProjectSummary, export_project

__all__ = [
    "CodebookImport",
    "ImportedProject",
    "ProjectSummary",
    "code_guid",
    "codebook_xml",
    "export_project",
    "read_codebook",
    "read_project",
    "read_taxonomy",
    "stable_guid",
    "write_codebook",
]
