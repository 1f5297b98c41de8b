"""llama.cpp's own OpenAI-compatible HTTP server (xllamacpp) with the bundled GGUF, for tests.

Run as ``python -m tests.support.embedded_server ALIAS``: it prints ``http://127.0.0.1:PORT``
once the model is loaded, serves on 127.0.0.1 with default options (one slot, 4096 tokens of
context), and stops when its standard input closes or it receives SIGTERM.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from llmcode.llm.backends.local import bundled_model_path


@contextlib.contextmanager
def embedded_server(alias: str = "smollm2") -> Iterator[str]:
    """Start the server in a subprocess; yield its base URL (``.../v1``); stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.embedded_server", alias],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline().strip() if process.stdout else ""
        if not line.startswith("http://127.0.0.1"):
            raise RuntimeError(f"the embedded server did not start: {line!r}")
        yield f"{line}/v1"
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def serve(alias: str) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(bundled_model_path())
    params.model_alias = {alias}
    params.n_ctx = 4096
    params.verbosity = -1
    server = xllamacpp.Server(params)
    print(server.listening_address.rstrip("/"), flush=True)
    sys.stdin.read()  # until the parent closes it
    del server


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else "smollm2")
