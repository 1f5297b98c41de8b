"""Kill -9 loses nothing decided: `llmcode review` in a real terminal (a pty), killed mid-review."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from llmcode.review.session import ReviewSession
from llmcode.store.runs import DECISIONS, Run
from tests.review.test_review_session import make_run

SRC = Path(__file__).resolve().parents[2] / "src"
ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|[PX^_].*?\x1b\\|\][^\x07]*\x07|.)", re.S)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")


class Terminal:
    """`llmcode review` in a pseudo-terminal; collects what it draws, sends keys."""

    def __init__(self, run: Run) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        env = os.environ | {
            "TERM": "xterm-256color",
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from llmcode.cli import main; main()",
                "review",
                "demo",
                "--reviewer",
                "ana",
                "--runs-dir",
                str(run.path.parent),
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.screen = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.screen += ESCAPES.sub(b"", chunk)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[bytes]:
        """Wait until the screen shows ``pattern`` (a regex); returns its last match."""
        deadline = time.monotonic() + timeout
        while not (matches := list(re.finditer(pattern.encode(), self.screen))):
            if time.monotonic() > deadline or self.process.poll() is not None:
                tail = self.screen[-2000:].decode(errors="replace")
                raise AssertionError(f"{pattern!r} never appeared; the screen ended with:\n{tail}")
            time.sleep(0.002)
        return matches[-1]

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        os.close(self.master)


def decided(run: Run) -> list[tuple[str, str, list[str]]]:
    rows = [json.loads(line) for line in (run.path / DECISIONS).read_text().splitlines()]
    return [(r["item_id"], r["action"], r["codes"]) for r in rows]


@pytest.mark.slow
def test_sigkill_right_after_the_screen_moves_on_loses_no_decision(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    terminal = Terminal(run)
    try:
        terminal.wait_for("reviewed 0/4")
        terminal.send("a")
        terminal.wait_for("reviewed 1/4")
        terminal.send("c")
        terminal.wait_for("Change codes")
        terminal.send("res\r")
        terminal.wait_for("reviewed 2/4")
        terminal.send("r")
        terminal.wait_for("reviewed 3/4")
    finally:
        terminal.kill()  # at once: whatever the screen showed as decided must be on disk
    assert terminal.process.returncode == -signal.SIGKILL
    assert decided(run) == [
        ("i1", "accept", ["usage"]),
        ("i2", "change", ["resources"]),
        ("i3", "reject", []),
    ]
    reopened = ReviewSession(run, "ana")
    assert reopened.current is not None and reopened.current.item_id == "i4"


@pytest.mark.slow
def test_sigkill_during_a_burst_of_keys_keeps_every_decision_the_screen_showed(
    tmp_path: Path,
) -> None:
    run = make_run(tmp_path)
    terminal = Terminal(run)
    try:
        terminal.wait_for("reviewed 0/4")
        terminal.send("ar" * 20)  # accept, reject, accept, ... as fast as keys arrive
        shown = int(terminal.wait_for(r"reviewed ([1-4])/4").group(1))
    finally:
        terminal.kill()
    rows = decided(run)  # every line whole (a torn line would not parse)
    assert len({item for item, _, _ in rows}) >= shown
    assert rows[:2] == [("i1", "accept", ["usage"]), ("i2", "reject", [])][: len(rows)]
    assert ReviewSession(run, "ana").progress().reviewed == len({item for item, _, _ in rows})
