"""One process per run: an OS lock (``fcntl.flock``) on ``runs/<run_id>/run.lock``.

The lock is held from the moment a run is started or resumed until it is finished. The OS
releases it when its process exits, however it exits (``kill -9`` included), so a lock file left
behind by a dead process is stale and is taken over; its pid is reported as ``stale_pid``. A
second process asking for a held lock gets a ``RunStoreError`` naming the holder's pid.

Locks are per process and re-entrant: a process that already holds a run's lock (a notebook
that started a run and resumes it) gets the same lock back.

The lock file is opened without following links (nor waiting on a FIFO), and a run folder
holding links is refused before anything is opened: a planted ``run.lock`` link never gets a
file of yours truncated.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from llmcode.errors import RunStoreError
from llmcode.store.jsonl import open_file, refuse_links

LOCK = "run.lock"
_HELD: dict[Path, RunLock] = {}  # this process's locks, by run directory


class RunLock:
    """The held lock of one run directory; ``release()`` (or process exit) frees it."""

    def __init__(self, path: Path, handle: int, stale_pid: int | None) -> None:
        self.path = path
        self.handle = handle
        self.stale_pid = stale_pid
        self.users = 1

    def release(self) -> None:
        self.users -= 1
        if self.users > 0 or self.handle < 0:
            return
        _HELD.pop(self.path, None)
        with contextlib.suppress(OSError):
            fcntl.flock(self.handle, fcntl.LOCK_UN)
        os.close(self.handle)
        self.handle = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_run(run_dir: Path, run_id: str | None = None) -> RunLock:
    """Take the run's lock or raise ``RunStoreError`` naming the process that holds it."""
    key = run_dir.resolve()
    if (held := _HELD.get(key)) is not None and held.handle >= 0:
        held.users += 1
        return held
    path = run_dir / LOCK
    refuse_links(run_dir)
    try:
        handle = open_file(path, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise RunStoreError(f"{path}: cannot create the run's lock file ({exc.strerror})") from exc
    previous = _read_pid(handle)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        name = run_id or run_dir.name
        holder = f"process {previous}" if previous else "another process"
        raise RunStoreError(
            f"run '{name}' is in use by {holder}",
            hint=f"wait for it to finish, or stop it (kill {previous or 'PID'}) and resume",
        ) from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
    stale = previous if previous and previous != os.getpid() else None
    lock = RunLock(key, handle, stale)
    _HELD[key] = lock
    return lock


def lock_holder(run_dir: Path) -> int | None:
    """The pid holding the run's lock now, or None when nobody does."""
    path = run_dir / LOCK
    if not path.is_file():
        return None
    if (held := _HELD.get(run_dir.resolve())) is not None and held.handle >= 0:
        return os.getpid()
    try:
        handle = open_file(path, os.O_RDONLY, "read")
    except (OSError, RunStoreError):
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(handle) or -1
    finally:
        os.close(handle)
    return None


def _read_pid(handle: int) -> int | None:
    try:
        text = os.pread(handle, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
