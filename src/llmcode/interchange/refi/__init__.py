"""REFI-QDA interchange with ATLAS.ti, MAXQDA, NVivo, QualCoder and other QDA tools.

The work is split by file kind: ``codebook`` (``.qdc`` codebooks and stable GUIDs), ``project``
(writing a run as a ``.qdpx`` project, from the passages of ``marks`` as the elements of
``selections``), ``merge`` (a run's passages added to a project a QDA tool wrote), ``importer``
(reading the coded passages of a ``.qdpx`` project back in long format) and ``archive`` (the
``.qdpx`` zip, read safely). This module is their public face.
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
from llmcode.interchange.refi.merge import MergeSummary, merge_project
from llmcode.interchange.refi.project import ProjectSummary, export_project

__all__ = [
    "CodebookImport",
    "ImportedProject",
    "MergeSummary",
    "ProjectSummary",
    "code_guid",
    "codebook_xml",
    "export_project",
    "merge_project",
    "read_codebook",
    "read_project",
    "read_taxonomy",
    "stable_guid",
    "write_codebook",
]
