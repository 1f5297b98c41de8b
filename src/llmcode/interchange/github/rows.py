"""GitHub issues as item rows: the columns, the CSV/JSONL writer, and JSON files of issues.

A row has ``item_id, title, body, labels, created_at, closed_at, comments, url``: ``item_id`` is
``<repo>-<number>``, ``labels`` are joined with ``;``, ``comments`` is a count. The same row comes
from an issue as the REST API shapes it and as ``gh issue list --json`` does. A file of issues may
hold one JSON array, arrays back to back (``gh api --paginate``), or one object per line.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from llmcode.csvfiles import guard_cell, restore_cell
from llmcode.errors import InterchangeError

COLUMNS = ("item_id", "title", "body", "labels", "created_at", "closed_at", "comments", "url")
_URL_REPO = re.compile(r"/(?:repos/)?([^/]+)/([^/]+)/(?:issues|pull)/\d+")
_NO_DATE = ("", "0001-01-01T00:00:00Z")


@dataclass
class IssueImport:
    """What an import wrote: issues, pull requests skipped, pages read, seconds waited."""

    issues: int = 0
    pull_requests: int = 0
    pages: int = 0
    resumed: int = 0
    waited: float = 0.0

    def __str__(self) -> str:
        text = f"{self.issues} issues"
        if self.resumed:
            text += f" ({self.resumed} from the earlier partial import)"
        if self.pull_requests:
            text += f", {self.pull_requests} pull requests skipped"
        if self.pages:
            text += f", {self.pages} pages"
        if self.waited:
            text += f", waited {self.waited:.0f}s for rate limits"
        return text


def import_issue_file(
    path: str | Path, output: str | Path, repo: str | None = None, overwrite: bool = False
) -> IssueImport:
    """Convert issues saved as JSON (``gh issue list --json``, the API) into item rows."""
    path, output = Path(path), Path(output)
    prepare_output(output)
    if output.exists() and not overwrite:
        raise InterchangeError(f"{output} exists", hint="add --overwrite to replace it")
    result = IssueImport()
    rows, seen = [], set()
    for index, issue in enumerate(read_issue_file(path)):
        if not isinstance(issue, dict) or "number" not in issue:
            raise InterchangeError(f"{path}: entry {index} is not an issue (no 'number')")
        check_number(issue, f"{path}: entry {index}")
        if "pull_request" in issue or issue.get("isPullRequest"):
            result.pull_requests += 1
            continue
        row = issue_row(issue, _repo_name(issue, repo, path, index))
        if row["item_id"] not in seen:
            seen.add(row["item_id"])
            rows.append(row)
    remove_outputs(output)
    with IssueWriter(output) as writer:
        writer.write(rows)
    result.issues = len(rows)
    return result


def read_issue_file(path: Path) -> Iterator[Any]:
    """The issues in a JSON file: one array, arrays back to back, or one object per line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InterchangeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InterchangeError(f"{path}: cannot read ({exc})") from exc
    decoder, at = json.JSONDecoder(), 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise InterchangeError(
                f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})",
                hint="save issues with `gh issue list --json number,title,body,labels,"
                "createdAt,closedAt,comments,url` or from the REST API",
            ) from exc
        if isinstance(value, dict) and isinstance(value.get("items"), list):
            value = value["items"]  # a search API answer
        yield from value if isinstance(value, list) else [value]


def check_number(issue: dict[str, Any], where: str) -> int:
    """The issue's number; anything but a whole number (null, words, 1.5) is an error."""
    number = issue.get("number")
    if isinstance(number, str) and number.isascii() and number.isdigit():
        number = int(number)
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise InterchangeError(
            f"{where}: 'number' is {json.dumps(number)[:40]}, not an issue number",
            hint="item ids are <repo>-<number>: every issue needs its number",
        )
    return number


def issue_row(issue: dict[str, Any], repo_name: str) -> dict[str, str]:
    """One item row from an issue as the REST API or ``gh issue list --json`` shapes it."""
    labels = issue.get("labels") or []
    if isinstance(labels, str):  # "bug,question" (a CSV-minded export): names, not characters
        labels = [name.strip() for name in labels.replace(";", ",").split(",") if name.strip()]
    comments = issue.get("comments") or 0
    closed = issue.get("closed_at", issue.get("closedAt")) or ""
    return {
        "item_id": f"{repo_name}-{issue['number']}",
        "title": str(issue.get("title") or ""),
        "body": str(issue.get("body") or ""),
        "labels": ";".join(
            str(label.get("name", "")) if isinstance(label, dict) else str(label)
            for label in labels
        ),
        "created_at": str(issue.get("created_at", issue.get("createdAt")) or ""),
        "closed_at": "" if closed in _NO_DATE else str(closed),
        "comments": str(len(comments) if isinstance(comments, list) else comments),
        "url": str(issue.get("html_url") or issue.get("url") or ""),
    }


def _repo_name(issue: dict[str, Any], repo: str | None, path: Path, index: int) -> str:
    if repo:
        return repo.rstrip("/").split("/")[-1]
    for key in ("repository_url", "html_url", "url"):
        value = str(issue.get(key) or "")
        if key == "repository_url" and "/repos/" in value:
            return value.rstrip("/").split("/")[-1]
        found = _URL_REPO.search(urlsplit(value).path)
        if found:
            return found.group(2)
    raise InterchangeError(
        f"{path}: entry {index} has no url to tell its repository",
        hint="add --repo OWNER/REPO (item ids are <repo>-<number>)",
    )


class IssueWriter:
    """Appends item rows to a CSV or JSONL file, each batch flushed to disk before returning."""

    def __init__(self, path: Path) -> None:
        prepare_output(path)
        self.path = path
        self.new = not path.exists() or path.stat().st_size == 0
        self.handle = path.open("a", encoding="utf-8", newline="")

    def write(self, rows: list[dict[str, str]]) -> None:
        if self.path.suffix.lower() == ".csv":
            writer = csv.DictWriter(self.handle, fieldnames=COLUMNS)
            if self.new:
                writer.writeheader()
            writer.writerows({k: guard_cell(v) for k, v in row.items()} for row in rows)
        else:
            self.handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        self.new = False
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def __enter__(self) -> IssueWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.handle.close()


def prepare_output(path: Path) -> None:
    """Check the output is .csv or .jsonl and make its folder."""
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise InterchangeError(f"{path}: write issues to a .csv or .jsonl file")
    path.parent.mkdir(parents=True, exist_ok=True)


def existing_ids(path: Path) -> set[str]:
    """Item ids already in a partial output."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".csv":
                return {restore_cell(row["item_id"]) for row in csv.DictReader(handle)}
            return {json.loads(line)["item_id"] for line in handle if line.strip()}
    except (OSError, ValueError, KeyError, csv.Error) as exc:
        raise InterchangeError(
            f"{path}: cannot read the partial import ({exc})", hint="add --overwrite to start again"
        ) from exc


def remove_outputs(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
