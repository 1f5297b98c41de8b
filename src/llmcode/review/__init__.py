"""Review of a run's codes by a human: the UI-free session and, in ``app``, the Textual shell.

``session`` (state, decisions, undo, resume, progress), ``decisions`` (``decisions.jsonl``)
and ``queues`` (what to review, in which order) never import textual or rich; ``app`` and
``widgets`` display a session and forward keys to it.
"""
