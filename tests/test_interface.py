"""The command line is a promise: every command and option of the snapshot still exists, unchanged.

New commands and options are welcome (the snapshot is a floor, not a ceiling); a removed command,
a removed option, or a changed default, flag-ness, multiplicity or env var fails. Regenerate the
snapshot after an intended addition with ``python -m tests.regenerate_interface``.
"""

from __future__ import annotations

import json

from llmcode.cli import get_app
from llmcode.cli.interface import describe_interface
from tests.support import DATA

SNAPSHOT = DATA / "interface.json"
FACTS = ("kind", "default", "is_flag", "multiple")


def test_every_snapshot_command_and_option_still_exists_unchanged() -> None:
    promised = json.loads(SNAPSHOT.read_text())
    current = describe_interface(get_app())
    problems = []
    for command, params in promised.items():
        if command not in current:
            problems.append(f"{command}: command removed")
            continue
        for name, facts in params.items():
            now = current[command].get(name)
            if now is None:
                problems.append(f"{command} {name}: option removed")
                continue
            for fact in FACTS:
                if now[fact] != facts[fact]:
                    problems.append(f"{command} {name}: {fact} {facts[fact]!r} -> {now[fact]!r}")
            if facts["envvar"] and now["envvar"] != facts["envvar"]:
                problems.append(f"{command} {name}: envvar {facts['envvar']} -> {now['envvar']}")
    assert problems == []


def test_the_snapshot_covers_the_workflow_commands() -> None:
    promised = json.loads(SNAPSHOT.read_text())
    for command in ("llmcode code", "llmcode agree", "llmcode review", "llmcode export"):
        assert command in promised
    assert "--resume" in promised["llmcode code"]
