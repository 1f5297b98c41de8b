"""Rewrite ``tests/data/interface.json`` from the current CLI (after an intended addition)."""

from __future__ import annotations

import json

from llmcode.cli import get_app
from llmcode.cli.interface import describe_interface
from tests.support import DATA

if __name__ == "__main__":
    snapshot = describe_interface(get_app())
    (DATA / "interface.json").write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    print(f"{len(snapshot)} commands written to {DATA / 'interface.json'}")
