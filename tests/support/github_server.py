"""A local stand-in for the GitHub REST issues endpoint, on 127.0.0.1, for the import tests.

It serves ``GET {prefix}/repos/{repo}/issues`` from a list of API-shaped issues (pull requests
included, as GitHub does), filtered by ``state``, ``labels`` and ``since``, sorted by creation,
``page_size`` per page with ``Link: <...>; rel="next"`` headers. ``fail(n, status, headers)``
makes the n-th request (1-based) answer with an error instead, e.g. a rate limit. Every request
is recorded (path, query, headers).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class GitHubReplay:
    """Serve ``issues`` like api.github.com does; use as a context manager."""

    def __init__(
        self,
        issues: list[dict[str, Any]],
        repo: str = "acme/docsum",
        page_size: int = 2,
        prefix: str = "",
    ) -> None:
        self.issues = sorted(issues, key=lambda i: i["created_at"])
        self.repo = repo
        self.page_size = page_size
        self.prefix = prefix
        self.failures: dict[int, tuple[int, dict[str, str], dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def fail(
        self,
        number: int,
        status: int,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Make request ``number`` (1-based, counting all requests) answer ``status``."""
        self.failures[number] = (status, headers or {}, body or {"message": "failure"})

    def __enter__(self) -> GitHubReplay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict, Any]:
        if path != f"{self.prefix}/repos/{self.repo}/issues":
            return 404, {}, {"message": "Not Found"}
        state = query.get("state", ["open"])[0]
        labels = [x for x in query.get("labels", [""])[0].split(",") if x]
        since = query.get("since", [""])[0]
        chosen = [
            issue
            for issue in self.issues
            if (state == "all" or issue["state"] == state)
            and all(label in {x["name"] for x in issue["labels"]} for label in labels)
            and issue["updated_at"] >= since
        ]
        page = int(query.get("page", ["1"])[0])
        pages = max(1, -(-len(chosen) // self.page_size))
        body = chosen[(page - 1) * self.page_size : page * self.page_size]
        links = []
        if page < pages:
            links.append(f'<{self._page_url(path, query, page + 1)}>; rel="next"')
            links.append(f'<{self._page_url(path, query, pages)}>; rel="last"')
        return 200, {"Link": ", ".join(links)} if links else {}, body

    def _page_url(self, path: str, query: dict[str, list[str]], page: int) -> str:
        params = {key: values[0] for key, values in query.items()}
        params["page"] = str(page)
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}?{urlencode(params)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                with replay.lock:
                    replay.requests.append(
                        {"path": parts.path, "query": query, "headers": dict(self.headers)}
                    )
                    number = len(replay.requests)
                if number in replay.failures:
                    status, headers, body = replay.failures[number]
                else:
                    status, headers, body = replay.answer(parts.path, query)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
