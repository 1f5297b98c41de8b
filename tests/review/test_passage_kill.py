"""Kill -9 loses no passage decision: `llmcode review` of a segment run in a real terminal (a
pty), killed right after the screen showed a decision."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from llmcode.review.passage_session import PassageSession
from llmcode.store.runs import DECISIONS, Run
from tests.review.passage_runs import make_segment_run
from tests.review.test_review_kill import ESCAPES, SRC, Terminal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")


class PassageTerminal(Terminal):
    """`llmcode review seg` in a pseudo-terminal."""

    def __init__(self, run: Run) -> None:  # Terminal's, with the segment run's id
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
        env = os.environ | {
            "TERM": "xterm-256color",
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from llmcode.cli import main; main()", "review", "seg",
             "--reviewer", "ana", "--runs-dir", str(run.path.parent)],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.screen = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()


def lines(run: Run) -> list[tuple[str, str, list[str], int, int]]:
    rows = [json.loads(line) for line in (run.path / DECISIONS).read_text().splitlines()]
    return [(r["passage"], r["action"], r["codes"], r["start"], r["end"]) for r in rows]


@pytest.mark.slow
def test_sigkill_after_accept_reject_widen_and_add_loses_nothing(tmp_path: Path) -> None:
    assert ESCAPES is not None
    run = make_segment_run(tmp_path)
    terminal = PassageTerminal(run)
    try:
        terminal.wait_for("passages reviewed 0/18")
        terminal.send("a")
        terminal.wait_for("passages reviewed 1/18")
        terminal.send("r")
        terminal.wait_for("passages reviewed 2/18")
        terminal.send("]")
        terminal.wait_for("resized")
        terminal.send("i")
        terminal.wait_for("MARKING")
        terminal.send(" ")
        terminal.wait_for("space marks the end")
        terminal.send(" ")
        terminal.wait_for("Change codes")
        terminal.send("licen\r")
        terminal.wait_for("added 1")
    finally:
        terminal.kill()  # at once: whatever the screen showed as decided must be on disk
    assert terminal.process.returncode == -signal.SIGKILL
    rows = lines(run)
    assert [r[:2] for r in rows] == [("m0", "accept"), ("m1", "reject"), ("m2", "resize"),
                                     ("ana-1", "add")]  # fmt: skip
    assert rows[3][2] == ["licensing"]
    reopened = PassageSession(run, "ana")
    assert reopened.progress().reviewed == 4
    assert ("p1-logistics", "ana-1") in reopened.queue
