"""Coding items with a model: ``lifecycle`` owns a run's life (start, resume, finish, cost);
``closed`` (and ``multiitem``, ``batch``) code against a taxonomy with ``examples`` and ``verify``;
``opencoding``, ``themes``, ``recode``, ``proposals`` and ``crosswalk`` build and extend taxonomies;
``notebook`` is the one-call entry point for scripts.
"""
