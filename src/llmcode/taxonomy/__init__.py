"""Taxonomies: the typed model loaded from YAML with file:line errors (``model``), and ``diff``.

Pure data, no model calls: everything that asks an LLM about a taxonomy (proposals, crosswalks)
lives in `llmcode.coding`.
"""
