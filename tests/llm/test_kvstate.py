"""The codebook prefix's KV state between runs: names, the model's digest, save and restore
through the slots endpoint (a stand-in server), and, with the real model, the same answers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llmcode.llm.backends.kvstate import KEEP, PrefixStates, file_digest, state_name
from tests.support import ROOT, needs_llama

SYSTEM = {"role": "system", "content": "You code GitHub issues. Codebook: ..."}


def test_a_state_is_named_by_model_codebook_context_and_engine() -> None:
    name = state_name("a" * 64, "codebook", 4096, "xllamacpp 1")
    assert name == state_name("a" * 64, "codebook", 4096, "xllamacpp 1")
    others = {
        state_name("b" * 64, "codebook", 4096, "xllamacpp 1"),
        state_name("a" * 64, "codebook, edited", 4096, "xllamacpp 1"),
        state_name("a" * 64, "codebook", 2048, "xllamacpp 1"),
        state_name("a" * 64, "codebook", 4096, "xllamacpp 2"),
    }
    assert name not in others and len(others) == 4
    assert "/" not in name and not name.startswith(".")  # llama.cpp refuses paths


def test_a_codebook_gets_the_same_state_name_in_every_new_process() -> None:
    """A later run finds the saved state only if its system message is rendered byte for byte
    the same: nothing in it may depend on string hashing (set order), which differs between
    interpreters."""
    script = (
        "from llmcode.llm.backends.kvstate import state_name\n"
        "from llmcode.llm.prompts import load_prompts, system_message\n"
        "from llmcode.taxonomy.model import load_taxonomy\n"
        "for name in ('ptm-reuse', 'remote-work'):\n"
        "    taxonomy = load_taxonomy(f'taxonomy/{name}.yaml')\n"
        "    for level in ('top', 'leaves'):\n"
        "        system = system_message(load_prompts(), taxonomy, level)['content']\n"
        "        print(state_name('0' * 64, system, 4096, 'xllamacpp'))\n"
    )
    names = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "src")}
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        names.add(out.stdout)
    assert len(names) == 1 and len(names.pop().split()) == 4


def test_the_model_digest_is_its_sha256_remembered_by_size_and_time(tmp_path: Path) -> None:
    model, memo = tmp_path / "m.gguf", tmp_path / "models.json"
    model.write_bytes(b"weights" * 1000)
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert file_digest(model, memo) == expected
    stat = model.stat()
    model.write_bytes(b"WEIGHTS" * 1000)  # same size; put the old time back: not read again
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_digest(model, memo) == expected
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched: read again
    assert file_digest(model, memo) == hashlib.sha256(model.read_bytes()).hexdigest()


class SlotServer:
    """Stands in for llama.cpp's ``/slots/<id>?action=save|restore`` on a directory."""

    def __init__(self, directory: Path, fail: bool = False) -> None:
        self.directory = directory
        self.fail = fail
        self.actions: list[tuple[int, str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                slot, action = int(path.rsplit("/", 1)[1]), query.split("=", 1)[1]
                size = int(self.headers["Content-Length"])
                filename = json.loads(self.rfile.read(size))["filename"]
                owner.actions.append((slot, action, filename))
                if owner.fail:
                    body: dict[str, Any] = {"error": {"message": "no slot save path"}}
                    self.send_response(501)
                elif action == "save":
                    (owner.directory / filename).write_bytes(b"kv" * 100)
                    body = {"id_slot": slot, "n_saved": 100}
                else:
                    assert (owner.directory / filename).is_file()
                    body = {"id_slot": slot, "n_restored": 100}
                    self.send_response(200)
                if action == "save" and not owner.fail:
                    self.send_response(200)
                data = json.dumps(body).encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def slot_server(tmp_path: Path) -> Iterator[SlotServer]:
    server = SlotServer(tmp_path / "kv")
    yield server
    server.close()


def make_states(tmp_path: Path, slots: int = 3) -> PrefixStates:
    model = tmp_path / "m.gguf"
    if not model.exists():
        model.write_bytes(b"weights")
    return PrefixStates(tmp_path / "kv", model, 4096, slots, "xllamacpp test")


def test_a_new_codebook_is_evaluated_once_saved_and_loaded_into_the_other_slots(
    tmp_path: Path, slot_server: SlotServer
) -> None:
    warmed: list[dict[str, Any]] = []
    states = make_states(tmp_path)
    states.prime(slot_server.url, SYSTEM, warmed.append)
    assert states.status == "saved"
    assert len(warmed) == 1 and warmed[0]["id_slot"] == 0
    assert warmed[0]["messages"][0] == SYSTEM and warmed[0]["max_tokens"] == 1
    (save, *restores) = slot_server.actions
    assert save[:2] == (0, "save") and save[2].endswith(".part")
    assert [(slot, action) for slot, action, _ in restores] == [(1, "restore"), (2, "restore")]
    name = restores[0][2]
    assert (tmp_path / "kv" / name).is_file() and not (tmp_path / "kv" / save[2]).exists()
    states.prime(slot_server.url, SYSTEM, warmed.append)  # the same codebook: nothing to do
    assert len(warmed) == 1 and len(slot_server.actions) == 3


def test_a_later_run_loads_the_state_into_every_slot_without_evaluating(
    tmp_path: Path, slot_server: SlotServer
) -> None:
    make_states(tmp_path).prime(slot_server.url, SYSTEM, lambda body: None)
    slot_server.actions.clear()
    later = make_states(tmp_path, slots=2)

    def never(body: dict[str, Any]) -> None:
        raise AssertionError("the codebook was evaluated again")

    later.prime(slot_server.url, SYSTEM, never)
    assert later.status == "restored"
    assert [(slot, action) for slot, action, _ in slot_server.actions] == [
        (0, "restore"),
        (1, "restore"),
    ]


def test_another_codebook_gets_its_own_state_and_old_ones_are_pruned(
    tmp_path: Path, slot_server: SlotServer
) -> None:
    for n in range(KEEP + 2):
        states = make_states(tmp_path, slots=1)  # one run per codebook
        states.prime(slot_server.url, {"role": "system", "content": f"codebook {n}"}, len)
        assert states.status == "saved"
    kept = list((tmp_path / "kv").glob("*.kv"))
    assert len(kept) == KEEP
    last = slot_server.actions[-1][2].removesuffix(".part")
    assert tmp_path / "kv" / last in kept


def test_a_run_whose_system_messages_vary_primes_only_the_first_few(
    tmp_path: Path, slot_server: SlotServer
) -> None:
    warmed: list[dict[str, Any]] = []
    states = make_states(tmp_path, slots=1)
    for n in range(KEEP + 3):
        states.prime(slot_server.url, {"role": "system", "content": f"level {n}"}, warmed.append)
    assert len(warmed) == KEEP


def test_a_server_that_refuses_leaves_the_run_on_the_cold_path(tmp_path: Path) -> None:
    server = SlotServer(tmp_path / "kv", fail=True)
    try:
        states = make_states(tmp_path)
        states.prime(server.url, SYSTEM, lambda body: None)  # no exception
        assert states.status.startswith("failed: ")
        assert not list((tmp_path / "kv").glob("*.kv"))
    finally:
        server.close()


def test_the_server_gets_a_save_path_ending_in_a_separator(tmp_path: Path) -> None:
    """llama.cpp appends the file name to ``slot_save_path`` as a string."""
    assert make_states(tmp_path).save_path == str(tmp_path / "kv") + os.sep


@pytest.mark.slow
@needs_llama
def test_a_run_from_a_restored_state_answers_as_a_cold_run(tmp_path: Path) -> None:
    from llmcode.items import load_items
    from llmcode.llm.answers import answer_schema
    from llmcode.llm.backends.base import ChatRequest
    from llmcode.llm.backends.local import LocalBackend
    from llmcode.llm.prompts import item_message, load_prompts, system_message
    from llmcode.taxonomy.model import load_taxonomy

    taxonomy = load_taxonomy(ROOT / "taxonomy" / "ptm-reuse.yaml")
    prompts = load_prompts()
    items = load_items(ROOT / "examples" / "ptm-issues.csv").items[:2]
    requests = [
        ChatRequest(
            messages=(
                system_message(prompts, taxonomy),
                item_message(prompts, item.item_id, item.text),
            ),
            schema=answer_schema([c.id for c in taxonomy.categories], False),
            max_tokens=256,
            temperature=0.0,
        )
        for item in items
    ]

    def answers(state_dir: Path | None) -> tuple[list[str], str]:
        backend = LocalBackend(threads=1, state_dir=state_dir)
        try:
            contents = [asyncio.run(backend.complete(r)).content for r in requests]
        finally:
            backend.close()
        return contents, backend.states.status if backend.states else "off"

    cold, _ = answers(None)
    first, saved = answers(tmp_path / "kv")
    restored, status = answers(tmp_path / "kv")
    assert (saved, status) == ("saved", "restored")
    assert all(json.loads(content)["codes"] for content in cold)
    assert first == cold
    assert restored == cold
