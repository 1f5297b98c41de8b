"""The test server itself: ``TestServer`` (lifecycle, budget, routing, the chat handler with its
limits, faults and latency) and the ``http.server`` classes that carry it."""

from __future__ import annotations

import contextlib
import json
import math
import random
import socket
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from llmcode.errors import ConfigError
from llmcode.testserver.accounting import (
    Accounting,
    RateLimiter,
    RecordedRequest,
    ServerStats,
    message_key,
)
from llmcode.testserver.batches import BatchStore, new_id
from llmcode.testserver.config import HOST, ServerConfig
from llmcode.testserver.responder import (
    chat_completion,
    error_body,
    estimate_tokens,
    falsify,
    malformed,
    message_text,
    wrong_schema,
)

MAX_BODY_BYTES = 64 * 1024 * 1024
STOP_GRACE_SECONDS = 5.0


@dataclass
class _Reply:
    status: int
    payload: Any  # a JSON body, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


def _error(
    status: int,
    message: str,
    kind: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> _Reply:
    return _Reply(status, error_body(message, kind, param, code), headers or {})


def _retry_headers(seconds: float) -> dict[str, str]:
    return {"Retry-After": f"{seconds:.3f}", "retry-after-ms": str(math.ceil(seconds * 1000))}


class TestServer:
    """The server: ``with TestServer(config) as server`` runs it on background threads."""

    __test__ = False  # a library class, not a pytest test class

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self._accounting = Accounting(self.config.recent_size)
        self._limiter = RateLimiter(self.config.rpm, self.config.tpm)
        self._rng = random.Random(self.config.seed)
        self._fault_lock = threading.Lock()
        self._prefixes: set[str] = set()  # first messages seen (prompt_cache)
        self._script = deque(self.config.fault_script)
        self._store = BatchStore(self._batch_answer, self.config.batch_delay)
        self._stopping = threading.Event()  # set first on stop: wakes sleeping handlers
        self._stop_requested = threading.Event()
        self._stopped = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._watchdog: threading.Thread | None = None

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> TestServer:
        """Bind and serve on background threads; the watchdog stops it at the budget."""
        if self._httpd is not None:
            raise ConfigError("this TestServer was already started; make a new one")
        try:
            self._httpd = _HTTPServer(self)
        except OSError as exc:
            raise ConfigError(
                f"the test server cannot listen on {HOST}:{self.config.port} ({exc})",
                hint="choose another port, or 0 for any free one",
            ) from exc
        serving = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="testserver", daemon=True
        )
        self._watchdog = threading.Thread(target=self._watch, name="testserver-watch", daemon=True)
        serving.start()
        self._watchdog.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, close connections; idempotent."""
        self._stop_requested.set()
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(timeout=3 * STOP_GRACE_SECONDS)

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped (by itself or by ``stop``); False on timeout."""
        return self._stopped.wait(timeout)

    @property
    def is_running(self) -> bool:
        return self._httpd is not None and not self._stopping.is_set()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise ConfigError("the TestServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What ``openai.OpenAI(base_url=...)`` takes: ``http://127.0.0.1:PORT/v1``."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def stats(self) -> ServerStats:
        return self._accounting.snapshot()

    def _watch(self) -> None:
        self._stop_requested.wait(self.config.max_seconds)
        httpd = self._httpd
        assert httpd is not None
        self._stopping.set()
        httpd.shutdown()
        httpd.close_all(STOP_GRACE_SECONDS)
        httpd.server_close()
        self._stopped.set()

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _draw_fault(self) -> str | None:
        weights = {k: w for k, w in self.config.fault_weights.items() if w > 0}
        with self._fault_lock:
            if self._script:
                kind = self._script.popleft()
            elif weights and self.config.fault_rate and self._rng.random() < self.config.fault_rate:
                kind = self._rng.choices(list(weights), list(weights.values()))[0]
            else:
                return None
        if kind == "ok":
            return None
        self._accounting.count_fault(kind)
        return kind

    def _batch_answer(self, body: Any) -> tuple[int, Any]:
        reply = self._chat(body, live=False)
        return reply.status, reply.payload

    def _chat(self, body: Any, *, live: bool, authorization: str = "") -> _Reply:
        """Answer one chat-completions body; ``live`` (over HTTP) adds limits, faults, latency."""
        self._accounting.add("chat_requests" if live else "batch_lines")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' must be a list", "invalid_request_error", "messages")
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema" and not self.config.supports_json_schema:
            return _error(
                400,
                "response_format json_schema is not supported",
                "invalid_request_error",
                "response_format",
            )
        choices = body.get("n") or 1
        if not isinstance(choices, int) or not 1 <= choices <= 16:
            return _error(400, "'n' must be an integer from 1 to 16", "invalid_request_error", "n")
        key = message_key(body["messages"])
        self._accounting.count_call(key)
        fault = None
        if live:
            prompt = "".join(message_text(m) for m in body["messages"] if isinstance(m, dict))
            wait = self._limiter.admit(estimate_tokens(prompt))
            if wait > 0:
                return _error(
                    429,
                    f"Rate limit reached for {self.config.model}: try again in {wait:.3f}s",
                    "requests",
                    code="rate_limit_exceeded",
                    headers=_retry_headers(wait),
                )
            fault = self._draw_fault()
            self._pause(self.config.latency)
            if fault == "rate_limit":
                return _error(
                    429,
                    "Rate limit reached (injected fault)",
                    "requests",
                    code="rate_limit_exceeded",
                    headers=_retry_headers(self.config.retry_after),
                )
            if fault == "server_error":
                return _error(
                    500,
                    "The server had an error while processing your request (injected fault)",
                    "server_error",
                )
            if fault == "timeout":
                self._pause(self.config.timeout_sleep)
            if fault == "echo_auth":
                return _error(
                    401,
                    f"Incorrect API key provided: {authorization or '(none)'} (injected fault)",
                    "invalid_request_error",
                    code="invalid_api_key",
                )
        try:
            contents = [self.config.responder(body) for _ in range(choices)]
        except Exception as exc:
            return _error(500, f"the responder failed: {exc!r}", "server_error")
        if fault == "malformed_json":
            contents = [malformed(c) for c in contents]
        elif fault == "wrong_schema":
            contents = [wrong_schema(body, c) for c in contents]
        elif fault in ("invented_quote", "unknown_code"):
            contents = [falsify(c, fault) for c in contents]
        completion = chat_completion(body, contents, self.config.model)
        if self.config.prompt_cache:
            cached = {"cached_tokens": self._cached_prefix(body)}
            completion["usage"]["prompt_tokens_details"] = cached
        self._accounting.count_paid(key, completion["usage"])
        return _Reply(200, completion)

    def _cached_prefix(self, body: dict[str, Any]) -> int:
        """Tokens of the first message when an earlier request opened with it (0 below 1,024
        tokens; whole steps of 128 above), as OpenAI's prompt caching reports them."""
        messages = body.get("messages") or []
        first = message_text(messages[0]) if messages and isinstance(messages[0], dict) else ""
        with self._fault_lock:
            seen = first in self._prefixes
            self._prefixes.add(first)
        tokens = estimate_tokens(first)
        if not seen or tokens < 1024:
            return 0
        return 1024 + (tokens - 1024) // 128 * 128

    def _route(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> _Reply:
        if self.config.api_key and headers.get("authorization") != f"Bearer {self.config.api_key}":
            return _error(
                401, "Incorrect API key provided", "invalid_request_error", code="invalid_api_key"
            )
        parts = path.rstrip("/").split("/")[1:]  # ["v1", ...]
        if method == "POST" and path == "/v1/files":
            return _Reply(*self._store.create_file(headers.get("content-type", ""), raw))
        body: Any = None
        if method == "POST":
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                return _error(400, "the request body is not JSON", "invalid_request_error")
        match method, parts:
            case "GET", ["v1", "models"]:
                model = {
                    "id": self.config.model,
                    "object": "model",
                    "created": 0,
                    "owned_by": "llmcode-testserver",
                }
                return _Reply(200, {"object": "list", "data": [model]})
            case "POST", ["v1", "chat", "completions"]:
                return self._chat(body, live=True, authorization=headers.get("authorization", ""))
            case "GET", ["v1", "files", file_id]:
                return _Reply(*self._store.file(file_id))
            case "GET", ["v1", "files", file_id, "content"]:
                return _Reply(*self._store.file_content(file_id))
            case "POST", ["v1", "batches"]:
                return _Reply(*self._store.create_batch(body))
            case "GET", ["v1", "batches", batch_id]:
                return _Reply(*self._store.batch(batch_id))
            case "POST", ["v1", "batches", batch_id, "cancel"]:
                return _Reply(*self._store.cancel_batch(batch_id))
        return _error(
            404,
            f"Unknown request URL: {method} {path}",
            "invalid_request_error",
            code="unknown_url",
        )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: TestServer) -> None:
        self.app = app
        self.idle = threading.Condition()
        self.connections: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        self.busy = 0  # handlers inside a request
        super().__init__((HOST, app.config.port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """One daemon thread per connection, tracked so that stopping can join it."""
        thread = threading.Thread(
            target=self._handle_connection, args=(request, client_address), daemon=True
        )
        with self.idle:
            self.threads.add(thread)
        thread.start()

    def _handle_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.idle:
                self.threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.app._accounting.add("handler_errors")

    def close_all(self, grace: float) -> None:
        """After ``shutdown``: let requests in flight finish (bounded), close every kept-alive
        connection and join the handler threads."""
        with self.idle:
            self.idle.wait_for(lambda: self.busy == 0, timeout=grace)
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout=grace)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "llmcode-testserver"
    timeout = 30  # an idle kept-alive connection closes after this
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.idle:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.idle:
                self.server.connections.discard(self.connection)
                self.server.idle.notify_all()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the library never prints (and requests carry API keys)."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        app = self.server.app
        with self.server.idle:
            self.server.busy += 1
        try:
            number = app._accounting.add("requests")
            raw = self._read_body()
            path = urlsplit(self.path).path
            headers = {k.lower(): v for k, v in self.headers.items()}
            if raw is None:
                reply = _error(413, "the request body is too large", "invalid_request_error")
                self.close_connection = True  # the unread body cannot be skipped
            elif number > app.config.max_requests or app._stopping.is_set():
                reply = _error(
                    503, "the test server is shutting down (budget spent)", "server_error"
                )
                self.close_connection = True
            else:
                reply = app._route(method, path, headers, raw)
            body = None
            if "json" in headers.get("content-type", "") and raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            app._accounting.record(RecordedRequest(method, path, reply.status, body, headers))
            self._send(reply)
            if number >= app.config.max_requests:
                app._stop_requested.set()
        finally:
            with self.server.idle:
                self.server.busy -= 1
                self.server.idle.notify_all()

    def _read_body(self) -> bytes | None:
        """The request body; None when it is larger than MAX_BODY_BYTES."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass  # trailers, up to the blank line
            return b"".join(chunks)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: _Reply) -> None:
        if isinstance(reply.payload, bytes):
            data, kind = reply.payload, "application/octet-stream"
        else:
            data, kind = json.dumps(reply.payload).encode(), "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", new_id("req_"))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a timeout fault)
