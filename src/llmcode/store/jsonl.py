"""Durable run files: atomic writes, JSONL appends, UTF-8 reads and torn last lines.

A file written with `atomic_write` is whole or absent; a line appended with `append_line` is on
disk when the call returns; a kill mid-append leaves a torn (unterminated) last line, which
`read_jsonl` ignores and `repair_jsonl` cuts. File-system trouble (a missing or read-only
folder, a full disk, bytes that are not UTF-8) is a `RunStoreError` naming the file and the
cause; a failed write leaves no ``.tmp`` file behind.

Nothing is written through a link: files are opened with ``O_NOFOLLOW`` (a symbolic link is a
`RunStoreError` naming it, before anything is truncated), a file with other hard links is
refused, and `refuse_links` refuses a run folder holding links at all (a run folder shared by a
colleague could point ``run.lock`` or ``codings.jsonl`` at a file of yours).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llmcode.errors import LlmcodeError, RunStoreError


def cause_of(exc: OSError) -> str:
    """What went wrong, in the words of the operating system."""
    return exc.strerror or str(exc)


def _write_failed(
    path: Path, exc: OSError, error: type[LlmcodeError] = RunStoreError
) -> LlmcodeError:
    if error is RunStoreError:
        hint = (
            "free some disk space, then continue with --resume"
            if exc.errno == errno.ENOSPC
            else "check that the folder exists and is writable (--runs-dir, LLMCODE_RUNS_DIR)"
        )
    else:
        hint = (
            "free some disk space and try again (the previous file is unchanged)"
            if exc.errno == errno.ENOSPC
            else "choose another output path (its folder must be a writable directory)"
        )
    return error(f"cannot write {path}: {cause_of(exc)}", hint=hint)


def open_file(path: Path, flags: int, what: str = "write") -> int:
    """``os.open`` that never follows a link and never blocks on a FIFO: a link, a file with
    other hard links or anything but a regular file is a `RunStoreError` naming ``path``."""
    try:
        handle = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _linked(path, "a symbolic link") from exc
        raise
    info = os.fstat(handle)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "not a regular file"
    elif info.st_nlink > 1 and flags & (os.O_WRONLY | os.O_RDWR):
        problem = f"a file with {info.st_nlink} hard links"
    if problem is not None:
        os.close(handle)
        raise _linked(path, problem, what)
    os.set_blocking(handle, True)
    return handle


def _linked(path: Path, problem: str, what: str = "write") -> RunStoreError:
    return RunStoreError(
        f"{path} is {problem}: llmcode does not {what} through it",
        hint="replace it with a regular file of the run (or delete it), then try again",
    )


def refuse_links(folder: Path) -> None:
    """A `RunStoreError` naming the first symbolic link inside a run folder (any depth)."""
    try:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                raise RunStoreError(
                    f"{path} is a symbolic link: llmcode does not use run folders with links",
                    hint="a run folder holds regular files only; copy the file in instead",
                )
    except OSError as exc:
        raise RunStoreError(f"cannot read the run folder {folder}: {cause_of(exc)}") from exc


def atomic_write(
    path: Path, data: str | bytes | Iterable[bytes], error: type[LlmcodeError] = RunStoreError
) -> None:
    """Write via a temporary file and rename, so readers never see half a file (and a failed
    write leaves the previous file as it was). A link at ``path`` is replaced, never written
    through. ``data`` may be chunks of bytes, written as they come (an error while they are
    made leaves the previous file as it was too).

    On failure the temporary file is removed and ``error`` names the file and cause.
    """
    tmp = path.with_name(path.name + ".tmp")
    chunks = (
        [data.encode("utf-8") if isinstance(data, str) else data]
        if isinstance(data, str | bytes)
        else data
    )
    try:
        tmp.unlink(missing_ok=True)  # a link planted there goes, its target stays
        handle = open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            for chunk in chunks:
                _write_all(handle, chunk)
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_failed(path, exc, error) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view) :]


def append_line(path: Path, line: str, *, sync: bool = True) -> None:
    """Append one JSON line, handed to the operating system before returning (so a killed
    process loses nothing) and, with ``sync``, on disk (so a power cut loses nothing).

    All or nothing: a write that fails (a full disk) is cut back off before the `RunStoreError`
    naming the file is raised, so the next line never lands on half a record. Only a kill
    mid-write leaves a torn last line (see `set_aside_torn`)."""
    try:
        handle = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except OSError as exc:
        raise _write_failed(path, exc) from exc
    try:
        size = os.fstat(handle).st_size
        try:
            _write_all(handle, (line + "\n").encode("utf-8"))
            if sync:
                os.fsync(handle)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(handle, size)
            raise _write_failed(path, exc) from exc
    finally:
        os.close(handle)


def sync_file(path: Path) -> None:
    """Put a file's written lines on disk (a no-op for a missing file)."""
    try:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _write_failed(path, exc) from exc


def read_text(path: Path, *, torn_tail: bool = False) -> str:
    """A UTF-8 text file; bytes that are not UTF-8 are a `RunStoreError` naming the line.

    With `torn_tail`, an unterminated last line (a write cut by a kill, perhaps inside a
    character) is decoded leniently, for the caller to drop.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise RunStoreError(f"cannot read {path}: {cause_of(exc)}") from exc
    tail = b""
    if torn_tail and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data, tail = data[:cut], data[cut:]
    try:
        return data.decode("utf-8") + tail.decode("utf-8", errors="replace")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RunStoreError(
            f"{path}:{line}: not valid UTF-8 (byte {exc.start})",
            hint="the file was changed outside llmcode; restore it from a backup or fix that line",
        ) from exc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn (unterminated, unparseable) last line is ignored."""
    if not path.is_file():
        return []
    rows = []
    lines = read_text(path, torn_tail=True).split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == len(lines):  # the last line, without its newline: torn by a kill
                break
            raise RunStoreError(f"{path}:{number}: not valid JSON") from exc
    return rows


def repair_jsonl(path: Path) -> int:
    """Truncate an unterminated last line; returns how many bytes were cut."""
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    try:
        handle = open_file(path, os.O_RDWR)
        try:
            os.ftruncate(handle, keep)
            os.fsync(handle)
        finally:
            os.close(handle)
    except OSError as exc:
        raise _write_failed(path, exc) from exc
    return len(data) - keep


TORN = ".torn"


def set_aside_torn(path: Path, record_start: bytes = b'{"item_id"') -> int:
    """Move every torn record of a JSONL file into ``<file>.torn``; returns how many.

    A torn record is a line that is not JSON: the last line cut by a kill, or half a record a
    full disk left before the next one was appended to it (then the whole record after it is
    kept). The file is rewritten without them (temporary file, then rename); their items have
    no record, so a resume asks them again. ``record_start`` is how a record begins (records
    are written with their ``item_id`` first), so a nested object is never taken for one.
    """
    if not path.is_file():
        return 0
    data = path.read_bytes()
    kept: list[bytes] = []
    torn: list[bytes] = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        good, bad = _salvage(line, record_start)
        if bad:
            torn.append(bad)
        if good:
            kept.append(good)
    if not torn:
        return 0
    try:
        handle = open_file(path.with_name(path.name + TORN), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            _write_all(handle, b"".join(fragment + b"\n" for fragment in torn))
            os.fsync(handle)
        finally:
            os.close(handle)
    except OSError as exc:
        raise _write_failed(path.with_name(path.name + TORN), exc) from exc
    atomic_write(path, b"".join(line + b"\n" for line in kept))
    return len(torn)


def _salvage(line: bytes, record_start: bytes) -> tuple[bytes, bytes]:
    """``(record, torn)`` of one line: the line itself when it parses, else the longest tail
    that is a whole record (one appended to half a record) and the part before it."""
    if _parses(line):
        return line, b""
    start = line.find(record_start, 1)
    while start != -1:
        if _parses(line[start:]):
            return line[start:], line[:start]
        start = line.find(record_start, start + 1)
    return b"", line


def _parses(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False
