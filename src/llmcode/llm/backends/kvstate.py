"""The codebook prefix's KV state, kept on disk between runs of the embedded model.

Every prompt of a run starts with the same system message (instructions and codebook); the
embedded model evaluates it once per slot before its first answer, about 1,300 tokens of the
bundled model, which on a small machine is most of a short run. `PrefixStates` keeps that work:
the first time a codebook is seen, one slot evaluates it (the system message and an empty user
turn, one token generated), llama.cpp's server saves the slot's KV state to a file
(``POST /slots/0?action=save``) and the other slots load it; a later run with the same model
file, codebook and context size loads the file into every slot (``?action=restore``, tens of
milliseconds) instead of evaluating the codebook again. A run primes at most four system
messages; those past them are evaluated by the slots as they come, as without a state.

The files live in a git-ignored cache directory beside the runs (``runs/.cache/kv``), named by
a hash of the model file's SHA-256, the system message, the context per slot and the engine's
version; the four used last are kept. A state only saves work: the server compares the tokens
it holds with each new prompt's and reuses the common prefix only, so answers are the same as
from a cold start (tested at temperature 0). Any failure here leaves the run on the cold path
and says why in `PrefixStates.status`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1
KEEP = 4
SUFFIX = ".kv"
_CHUNK = 1 << 20


def file_digest(path: Path, memo: Path | None = None) -> str:
    """SHA-256 of ``path``; remembered in ``memo`` (JSON) by path, size and modification time,
    so a 100 MB model is read once, not at every start."""
    stat = path.stat()
    mark = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    known: dict[str, Any] = {}
    if memo is not None and memo.is_file():
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
    entry = known.get(str(path))
    if isinstance(entry, dict) and all(entry.get(k) == v for k, v in mark.items()):
        return str(entry["sha256"])
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if memo is not None:
        known[str(path)] = {**mark, "sha256": value}
        _write_atomic(memo, json.dumps(known, indent=1).encode())
    return value


def state_name(model_sha256: str, prefix: str, n_ctx: int, engine: str) -> str:
    """The file name of a codebook prefix's state (a hash of everything it depends on)."""
    material = {
        "format": FORMAT,
        "model_sha256": model_sha256,
        "prefix_sha256": hashlib.sha256(prefix.encode()).hexdigest(),
        "n_ctx": n_ctx,
        "engine": engine,
    }
    canonical = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(canonical).hexdigest()[:40] + SUFFIX


class PrefixStates:
    """Save and restore the codebook prefix of a running llama.cpp server's slots."""

    def __init__(
        self, directory: Path, model_path: Path, n_ctx: int, slots: int, engine: str
    ) -> None:
        self.directory = directory
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.slots = slots
        self.engine = engine
        self.status = "unused"
        """What happened: ``unused``, ``saved``, ``restored`` or ``failed: <why>``."""
        self._model_sha256: str | None = None
        self._primed: set[str] = set()
        self._lock = threading.Lock()

    @property
    def save_path(self) -> str:
        """The server's ``slot_save_path`` (llama.cpp appends file names to it as a string)."""
        return str(self.directory) + os.sep

    def prime(
        self,
        base_url: str,
        system: dict[str, Any],
        warm: Callable[[dict[str, Any]], None],
    ) -> None:
        """Before the first request with this ``system`` message: load its state into every
        slot, or evaluate it in slot 0 (``warm(body)``), save it and load it into the others."""
        prefix = str(system.get("content") or "")
        with self._lock:
            if prefix in self._primed or len(self._primed) >= KEEP:
                return  # seen, or a run whose system messages vary (one per level, per tie)
            self._primed.add(prefix)  # one attempt per codebook, whatever happens
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                if self._model_sha256 is None:
                    memo = self.directory / "models.json"
                    self._model_sha256 = file_digest(self.model_path, memo)
                name = state_name(self._model_sha256, prefix, self.n_ctx, self.engine)
                path = self.directory / name
                if path.is_file():
                    self._restore(base_url, name, range(self.slots))
                    os.utime(path)
                    self.status = "restored"
                else:
                    warm(warm_up_body(system))
                    partial = name + ".part"
                    _slot_action(base_url, 0, "save", partial)
                    os.replace(self.directory / partial, path)
                    self._restore(base_url, name, range(1, self.slots))
                    self.status = "saved"
                self._prune(path)
            except (OSError, ValueError, RuntimeError, urllib.error.URLError) as exc:
                self.status = f"failed: {exc}"

    def _restore(self, base_url: str, name: str, slots: range) -> None:
        for slot in slots:
            _slot_action(base_url, slot, "restore", name)

    def _prune(self, current: Path) -> None:
        """Keep the state in use and the others used last (each is tens of MB)."""
        others = [p for p in self.directory.glob(f"*{SUFFIX}") if p != current]
        others.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in others[KEEP - 1 :]:
            old.unlink(missing_ok=True)


def warm_up_body(system: dict[str, Any]) -> dict[str, Any]:
    """A request that makes slot 0 evaluate the codebook (and an empty user turn): one token."""
    return {
        "messages": [system, {"role": "user", "content": ""}],
        "max_tokens": 1,
        "temperature": 0.0,
        "id_slot": 0,
        "stream": False,
    }


def _slot_action(base_url: str, slot: int, action: str, filename: str) -> dict[str, Any]:
    """``POST /slots/<slot>?action=<save|restore>`` on the in-process server's HTTP port."""
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/slots/{slot}?action={action}",
        data=json.dumps({"filename": filename}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    if not isinstance(answer, dict) or "error" in answer:
        raise ValueError(f"slot {slot} {action}: {answer}")
    return answer


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)
