"""GitHub issues as items, from the REST API (paginated, rate-limited, resumable) or a JSON file.

Rows are those of `llmcode.interchange.github.rows` (``item_id, title, body, labels,
created_at, closed_at, comments, url``). Pull requests are skipped: the issues endpoint lists
them too. The API import
appends each page to the output as it arrives and keeps its place in ``<output>.resume.json``;
the same command run again after an interruption continues where it stopped. Rate limits are
waited out (``Retry-After``, or ``x-ratelimit-reset`` when ``x-ratelimit-remaining`` is 0) up to
``max_wait`` seconds; server errors are retried three times. The base URL is configurable for
GitHub Enterprise (``https://HOST/api/v3``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from llmcode.errors import InterchangeError
from llmcode.interchange.github.rows import (
    COLUMNS,
    IssueImport,
    IssueWriter,
    check_number,
    existing_ids,
    import_issue_file,
    issue_row,
    prepare_output,
    remove_outputs,
)
from llmcode.llm.redaction import redact

DEFAULT_BASE_URL = "https://api.github.com"
STATES = ("open", "closed", "all")
__all__ = [
    "COLUMNS",
    "IssueImport",
    "IssueQuery",
    "fetch_issues",
    "import_issue_file",
    "import_issues",
    "issue_row",
    "make_query",
]
_REPO = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$")
Event = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class IssueQuery:
    """What to fetch: a repository, a state, issues updated since a date, labels (all of them)."""

    repo: str
    state: str = "all"
    since: str | None = None
    labels: tuple[str, ...] = ()

    def params(self, per_page: int) -> dict[str, str]:
        params = {
            "state": self.state,
            "per_page": str(per_page),
            "sort": "created",
            "direction": "asc",
        }
        if self.since:
            params["since"] = self.since
        if self.labels:
            params["labels"] = ",".join(self.labels)
        return params


def make_query(
    repo: str, state: str = "all", since: str | None = None, labels: list[str] | None = None
) -> IssueQuery:
    """Check and normalise the options of an API import."""
    if not _REPO.match(repo):
        raise InterchangeError(f"'{repo}' is not OWNER/REPO", hint="e.g. huggingface/transformers")
    if state not in STATES:
        raise InterchangeError(f"unknown state '{state}'", hint=f"use one of {', '.join(STATES)}")
    split = [part.strip() for label in labels or [] for part in label.split(",") if part.strip()]
    return IssueQuery(repo=repo, state=state, since=_iso_date(since), labels=tuple(split))


def import_issues(
    source: str | Path,
    output: str | Path,
    *,
    state: str = "all",
    since: str | None = None,
    labels: list[str] | None = None,
    base_url: str = DEFAULT_BASE_URL,
    repo: str | None = None,
    overwrite: bool = False,
    token: str | None = None,
    on_event: Event | None = None,
) -> IssueImport:
    """Issues as items from ``source``: a JSON file of issues (an existing file, or a name
    ending in .json/.jsonl; ``repo`` names the repository when the issues carry no url), else
    ``OWNER/REPO`` through the REST API (``state``, ``since``, ``labels`` select; resumable)."""
    if Path(source).is_file() or str(source).lower().endswith((".json", ".jsonl")):
        return import_issue_file(Path(source), output, repo=repo, overwrite=overwrite)
    query = make_query(str(source), state=state, since=since, labels=labels)
    return fetch_issues(
        query, output, base_url=base_url, token=token, overwrite=overwrite, on_event=on_event
    )


def fetch_issues(
    query: IssueQuery,
    output: str | Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    token: str | None = None,
    overwrite: bool = False,
    per_page: int = 100,
    max_wait: float = 3600.0,
    max_pages: int = 100_000,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    on_event: Event | None = None,
) -> IssueImport:
    """Fetch a repository's issues page by page into ``output`` (CSV or JSONL), resumably.

    A ``next`` link to a page already read, or more than ``max_pages`` pages, is an error:
    a broken or hostile server cannot keep the import going forever.
    """
    output = Path(output)
    prepare_output(output)
    state_path = output.with_name(output.name + ".resume.json")
    base_url = base_url.rstrip("/")
    wanted = {**asdict(query), "labels": list(query.labels), "base_url": redact(base_url)}
    result = IssueImport()
    first = httpx.URL(f"{base_url}/repos/{query.repo}/issues", params=query.params(per_page))
    url: str | None = str(first)
    if overwrite:
        remove_outputs(output, state_path)
    seen: set[str] = set()
    fresh = not output.exists()
    if fresh:
        _save_state(state_path, wanted, _portable(url, base_url), result)
    else:
        saved = _saved_state(output, state_path)
        if saved.get("query") != wanted:
            raise InterchangeError(
                f"{output}: the partial import there is of another query ({saved.get('query')})",
                hint="add --overwrite to start again, or choose another output",
            )
        url = saved["next_url"]
        if isinstance(url, str) and url.startswith(_BASE):
            url = base_url + url.removeprefix(_BASE)
        seen = existing_ids(output)
        result.resumed = result.issues = len(seen)
        result.pull_requests = saved.get("pull_requests", 0)
        _emit(on_event, "resume", issues=len(seen), url=url)
    pager = _Pager(
        client or httpx.Client(timeout=30.0, follow_redirects=True),
        token,
        base_url,
        max_wait,
        sleep,
        clock,
        on_event,
        result,
    )
    name = query.repo.split("/")[1]
    visited: set[str] = set()
    entries: set[object] = set()  # every issue and pull request number read in this import
    stalled = 0  # pages in a row that brought no entry not read before
    try:
        with IssueWriter(output) as writer:
            while url:
                _check_next(url, visited, max_pages)
                response = pager.get(url)
                rows = []
                page = _page(response, url)
                fresh_entries = {
                    issue.get("number") for issue in page if isinstance(issue, dict)
                } - entries
                entries |= fresh_entries
                stalled = 0 if fresh_entries or not page else stalled + 1
                if stalled >= STALLED_PAGES:
                    raise InterchangeError(
                        f"GitHub: {STALLED_PAGES} pages in a row brought no issue not read "
                        f"before; stopped at {url}",
                        hint="the server's pagination makes no progress; the issues read so far "
                        "are kept",
                    )
                for index, issue in enumerate(page):
                    if not isinstance(issue, dict):
                        raise InterchangeError(f"GitHub: {url}: entry {index} is not an issue")
                    if "pull_request" in issue:
                        result.pull_requests += 1
                        continue
                    check_number(issue, f"GitHub: {url}: entry {index}")
                    row = issue_row(issue, name)
                    if row["item_id"] not in seen:
                        seen.add(row["item_id"])
                        rows.append(row)
                writer.write(rows)
                result.issues += len(rows)
                result.pages += 1
                url = response.links.get("next", {}).get("url")
                _save_state(state_path, wanted, _portable(url, base_url), result)
                _emit(on_event, "page", page=result.pages, issues=result.issues)
    except InterchangeError:
        if fresh and result.pages == 0:  # nothing fetched: leave nothing behind
            remove_outputs(output, state_path)
        raise
    finally:
        if client is None:
            pager.http.close()
    state_path.unlink(missing_ok=True)
    return result


STALLED_PAGES = 3
"""Pages in a row without an issue not read before after which an import stops (a ``next``
link that only changes a query parameter)."""
REQUEST_DEADLINE = 120.0
"""Seconds one page may take in all."""


def _check_next(url: str, visited: set[str], max_pages: int) -> None:
    """Refuse a page read before (a link loop) and more than ``max_pages`` pages per import."""
    if url in visited:
        raise InterchangeError(
            f"GitHub: the next link repeats a page already read ({url})",
            hint="the server's pagination loops; the issues read so far are kept",
        )
    if len(visited) >= max_pages:
        raise InterchangeError(
            f"GitHub: more than {max_pages} pages; stopped at {url}",
            hint="narrow the import with --since or --labels",
        )
    visited.add(url)


@dataclass
class _Pager:
    """GETs pages: waits out rate limits, retries server and connection errors three times."""

    http: httpx.Client
    token: str | None
    base_url: str
    max_wait: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    on_event: Event | None
    result: IssueImport
    max_waits: int = 10

    def get(self, url: str) -> httpx.Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "User-Agent": "llmcode",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        if self.token and urlsplit(url).netloc == urlsplit(self.base_url).netloc:
            headers["Authorization"] = f"Bearer {self.token}"
        failures = waits = 0
        while True:
            try:
                response: httpx.Response | None = self._fetch(url, headers)
            except httpx.HTTPError as exc:
                response, error = None, f"{type(exc).__name__}: {exc}"
            if response is not None:
                if response.status_code == 200:
                    return response
                error = f"HTTP {response.status_code}"
                wait = _rate_limit_wait(response, self.clock())
                if wait is not None and waits < self.max_waits:
                    waits += 1
                    self._wait(wait, url)
                    continue
                if response.status_code < 500:
                    raise _http_error(response, url, self.token)
            failures += 1
            if failures > 3:
                raise InterchangeError(
                    f"GitHub: {url} failed 4 times ({error})",
                    hint="run the same command again to resume",
                )
            _emit(self.on_event, "retry", error=error, url=url)
            self.sleep(2.0 ** (failures - 1))

    def _fetch(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """One GET, read within ``REQUEST_DEADLINE`` seconds in all (the client's timeout is per
        read: a server sending one byte every few seconds would be waited on forever)."""
        deadline = self.clock() + REQUEST_DEADLINE
        with self.http.stream("GET", url, headers=headers) as streamed:
            body = bytearray()
            for chunk in streamed.iter_bytes():
                body.extend(chunk)
                if self.clock() > deadline:
                    raise InterchangeError(
                        f"GitHub: {url} took more than {REQUEST_DEADLINE:.0f} s to send a page",
                        hint="the server sends too slowly; run the same command again to resume",
                    )
            return httpx.Response(
                streamed.status_code,
                headers=streamed.headers,
                content=bytes(body),
                request=streamed.request,
            )

    def _wait(self, seconds: float, url: str) -> None:
        if seconds > self.max_wait:
            raise InterchangeError(
                f"GitHub rate limit reached; it resets in {seconds / 60:.0f} min",
                hint="set GITHUB_TOKEN (5000 requests/hour), or run the same command later: "
                "it resumes where it stopped",
            )
        _emit(self.on_event, "wait", seconds=seconds, url=url)
        self.sleep(seconds)
        self.result.waited += seconds


def _rate_limit_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait before retrying a 403/429, or None when it is not a rate limit."""
    if response.status_code not in (403, 429):
        return None
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return 60.0
    if response.headers.get("x-ratelimit-remaining") == "0":
        try:
            return max(0.0, float(response.headers["x-ratelimit-reset"]) - now) + 1.0
        except (KeyError, ValueError):
            return 60.0
    if "rate limit" in response.text.lower():
        return 60.0  # a secondary rate limit without headers: GitHub asks for a minute
    return None


def _http_error(response: httpx.Response, url: str, token: str | None) -> InterchangeError:
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text[:200]
    status = response.status_code
    hints = {
        401: "GITHUB_TOKEN is not valid (or expired)",
        403: "set GITHUB_TOKEN with access to this repository" if not token else None,
        404: "check OWNER/REPO" + ("" if token else "; a private repository needs GITHUB_TOKEN"),
        422: "check --since (a date like 2024-01-31) and --labels",
    }
    return InterchangeError(
        f"GitHub: {url}: HTTP {status} {message}".rstrip(), hint=hints.get(status)
    )


def _page(response: httpx.Response, url: str) -> list[dict[str, Any]]:
    try:
        page = response.json()
    except ValueError as exc:
        raise InterchangeError(f"GitHub: {url}: the answer is not JSON") from exc
    if not isinstance(page, list):
        raise InterchangeError(f"GitHub: {url}: expected a list of issues")
    return page


def _saved_state(output: Path, state_path: Path) -> dict[str, Any]:
    if not state_path.is_file():
        raise InterchangeError(
            f"{output} exists and holds a finished import",
            hint="add --overwrite to fetch again, or choose another output",
        )
    try:
        return json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InterchangeError(
            f"{state_path}: cannot read the resume state ({exc})",
            hint="add --overwrite to start again",
        ) from exc


_BASE = "{base_url}"


def _portable(url: str | None, base_url: str) -> str | None:
    """The next URL as saved: relative to ``{base_url}`` (which may hold a token), redacted."""
    if url and url.startswith(base_url):
        return _BASE + url.removeprefix(base_url)
    return redact(url)


def _save_state(path: Path, query: dict, next_url: str | None, result: IssueImport) -> None:
    state = {
        "query": query,
        "next_url": next_url,
        "issues": result.issues,
        "pull_requests": result.pull_requests,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


def _iso_date(since: str | None) -> str | None:
    if not since:
        return None
    try:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise InterchangeError(
            f"--since '{since}' is not a date", hint="use YYYY-MM-DD or an ISO 8601 time"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _emit(on_event: Event | None, kind: str, **data: Any) -> None:
    if on_event is not None:
        on_event(kind, data)
