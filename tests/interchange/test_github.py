"""GitHub issues import: REST API over real HTTP against a local replay server, and JSON files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.errors import InterchangeError
from llmcode.interchange.github import (
    COLUMNS,
    STATES,
    fetch_issues,
    import_issue_file,
    import_issues,
    make_query,
)
from llmcode.items import load_items
from tests.support.github_server import GitHubReplay

DATA = Path(__file__).parents[1] / "data" / "github"
ISSUES = json.loads((DATA / "issues.json").read_text(encoding="utf-8"))
ISSUE_IDS = ["docsum-3", "docsum-7", "docsum-9", "docsum-15", "docsum-21"]  # PRs 4 and 12 left out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def said(result) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(result.output.split())


class Recorder:
    """Stands in for time.sleep: records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def server():
    with GitHubReplay(ISSUES, page_size=2) as replay:
        yield replay


def fetch(server: GitHubReplay, output: Path, **options):
    query = make_query("acme/docsum", **options.pop("query", {}))
    options.setdefault("sleep", Recorder())
    return fetch_issues(query, output, base_url=server.url, **options)


def test_api_import_follows_link_pages_and_leaves_out_pull_requests(server, tmp_path):
    result = fetch(server, tmp_path / "items.csv")
    written = rows(tmp_path / "items.csv")
    assert [r["item_id"] for r in written] == ISSUE_IDS
    assert list(written[0]) == list(COLUMNS)
    assert (result.issues, result.pull_requests, result.pages) == (5, 2, 4)
    assert [r["query"].get("page", ["1"])[0] for r in server.requests] == ["1", "2", "3", "4"]
    assert not (tmp_path / "items.csv.resume.json").exists()


def test_rows_join_labels_count_comments_and_keep_the_issue_url(server, tmp_path):
    fetch(server, tmp_path / "items.csv")
    by_id = {r["item_id"]: r for r in rows(tmp_path / "items.csv")}
    assert by_id["docsum-7"]["labels"] == "bug;gpu"
    assert by_id["docsum-7"]["comments"] == "5"
    assert by_id["docsum-7"]["closed_at"] == ""
    assert by_id["docsum-3"]["closed_at"] == "2024-01-09T10:00:00Z"
    assert by_id["docsum-9"]["body"] == ""  # the API gives null
    assert by_id["docsum-21"]["url"] == "https://github.com/acme/docsum/issues/21"


def test_imported_issues_load_as_items_with_title_and_body(server, tmp_path):
    fetch(server, tmp_path / "items.csv")
    items = load_items(tmp_path / "items.csv")
    assert items.text_columns == ("title", "body")
    assert [i.item_id for i in items.items] == ISSUE_IDS
    assert "CUDA out of memory" in items.items[1].text


def test_state_labels_and_since_are_sent_to_the_api(server, tmp_path):
    query = {"state": "closed", "labels": ["bug,question"], "since": "2024-03-01"}
    fetch(server, tmp_path / "items.csv", query=query)
    sent = server.requests[0]["query"]
    assert sent["state"] == ["closed"]
    assert sent["labels"] == ["bug,question"]
    assert sent["since"] == ["2024-03-01T00:00:00Z"]
    assert [r["item_id"] for r in rows(tmp_path / "items.csv")] == ["docsum-15"]


def test_token_is_sent_as_a_bearer_header_and_none_without_token(server, tmp_path):
    fetch(server, tmp_path / "a.csv", token="s3cret")
    assert {r["headers"].get("Authorization") for r in server.requests} == {"Bearer s3cret"}
    server.requests.clear()
    fetch(server, tmp_path / "b.csv")
    assert {r["headers"].get("Authorization") for r in server.requests} == {None}


def test_primary_rate_limit_waits_until_the_reset_time(server, tmp_path):
    server.fail(
        2,
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"},
        {"message": "API rate limit exceeded"},
    )
    sleep = Recorder()
    result = fetch(server, tmp_path / "items.csv", sleep=sleep, clock=lambda: 1000.0)
    assert sleep.waits == [31.0]  # until the reset, plus a second
    assert len(rows(tmp_path / "items.csv")) == 5
    assert result.waited == 31.0


def test_429_with_retry_after_waits_that_long(server, tmp_path):
    server.fail(1, 429, {"Retry-After": "7"})
    sleep = Recorder()
    fetch(server, tmp_path / "items.csv", sleep=sleep)
    assert sleep.waits == [7.0]
    assert len(rows(tmp_path / "items.csv")) == 5


def test_server_errors_are_retried_with_backoff(server, tmp_path):
    server.fail(1, 502)
    server.fail(2, 503)
    sleep = Recorder()
    fetch(server, tmp_path / "items.csv", sleep=sleep)
    assert sleep.waits == [1.0, 2.0]
    assert len(rows(tmp_path / "items.csv")) == 5


def test_a_rate_limit_too_long_to_wait_stops_and_the_rerun_resumes(server, tmp_path):
    output = tmp_path / "items.csv"
    server.fail(3, 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1000 + 7200)})
    with pytest.raises(InterchangeError, match="rate limit"):
        fetch(server, output, clock=lambda: 1000.0, max_wait=600)
    assert [r["item_id"] for r in rows(output)] == ["docsum-3", "docsum-7", "docsum-9"]  # pages 1-2
    assert (tmp_path / "items.csv.resume.json").is_file()
    server.requests.clear()
    result = fetch(server, output)
    assert [r["item_id"] for r in rows(output)] == ISSUE_IDS
    assert server.requests[0]["query"]["page"] == ["3"]
    assert (result.resumed, result.issues) == (3, 5)
    assert not (tmp_path / "items.csv.resume.json").exists()


def test_a_resumed_page_that_was_already_written_is_not_duplicated(server, tmp_path):
    output = tmp_path / "items.jsonl"
    fetch(server, output)
    state = {
        "query": {
            "repo": "acme/docsum",
            "state": "all",
            "since": None,
            "labels": [],
            "base_url": server.url,
        },
        "next_url": f"{server.url}/repos/acme/docsum/issues?state=all&page=2",
    }
    (tmp_path / "items.jsonl.resume.json").write_text(json.dumps(state))
    fetch(server, output)
    ids = [json.loads(line)["item_id"] for line in output.read_text().splitlines()]
    assert ids == ISSUE_IDS


def test_a_finished_output_is_kept_unless_overwrite(server, tmp_path):
    fetch(server, tmp_path / "items.csv")
    with pytest.raises(InterchangeError, match="finished import"):
        fetch(server, tmp_path / "items.csv")
    result = fetch(server, tmp_path / "items.csv", overwrite=True)
    assert result.issues == 5 and len(rows(tmp_path / "items.csv")) == 5


def test_unknown_repository_is_a_clear_error_and_leaves_no_files(server, tmp_path):
    query = make_query("acme/nothing")
    with pytest.raises(InterchangeError, match="404") as caught:
        fetch_issues(query, tmp_path / "items.csv", base_url=server.url, sleep=Recorder())
    assert "GITHUB_TOKEN" in (caught.value.hint or "")
    assert list(tmp_path.iterdir()) == []


def test_enterprise_base_url_with_a_path_prefix(tmp_path):
    with GitHubReplay(ISSUES, page_size=3, prefix="/api/v3") as replay:
        result = fetch(replay, tmp_path / "items.csv")
        assert {r["path"] for r in replay.requests} == {"/api/v3/repos/acme/docsum/issues"}
    assert result.issues == 5


def test_bad_options_are_rejected_before_any_request():
    with pytest.raises(InterchangeError, match="OWNER/REPO"):
        make_query("docsum")
    with pytest.raises(InterchangeError, match="not a date"):
        make_query("acme/docsum", since="last week")
    with pytest.raises(InterchangeError, match="unknown state"):
        make_query("acme/docsum", state="merged")


def test_gh_issue_list_json_becomes_the_same_columns(tmp_path):
    result = import_issue_file(DATA / "gh-issue-list.json", tmp_path / "items.csv")
    written = rows(tmp_path / "items.csv")
    assert list(written[0]) == list(COLUMNS)
    by_id = {r["item_id"]: r for r in written}
    assert sorted(by_id) == ["docsum-15", "docsum-21", "docsum-9"]
    assert by_id["docsum-15"]["comments"] == "3"  # gh lists the comments: they are counted
    assert by_id["docsum-15"]["labels"] == "bug;question"
    assert by_id["docsum-15"]["created_at"] == "2024-03-10T07:00:00Z"
    assert by_id["docsum-21"]["closed_at"] == ""
    assert result.issues == 3


def test_api_pages_saved_back_to_back_skip_pull_requests(tmp_path):
    saved = tmp_path / "api.json"
    saved.write_text(json.dumps(ISSUES[:4]) + json.dumps(ISSUES[4:]))  # gh api --paginate
    result = import_issue_file(saved, tmp_path / "items.csv")
    assert [r["item_id"] for r in rows(tmp_path / "items.csv")] == ISSUE_IDS
    assert result.pull_requests == 2


def test_issues_without_urls_need_the_repo_option(tmp_path):
    saved = tmp_path / "bare.json"
    saved.write_text(json.dumps([{"number": 1, "title": "t", "body": "b"}]))
    with pytest.raises(InterchangeError, match="--repo"):
        import_issue_file(saved, tmp_path / "a.csv")
    import_issue_file(saved, tmp_path / "b.csv", repo="acme/docsum")
    assert rows(tmp_path / "b.csv")[0]["item_id"] == "docsum-1"


def test_a_broken_json_file_names_the_line(tmp_path):
    saved = tmp_path / "broken.json"
    saved.write_text('[{"number": 1,\n "title": }]')
    with pytest.raises(InterchangeError, match=r"broken.json:2:"):
        import_issue_file(saved, tmp_path / "items.csv")


def test_cli_imports_from_the_api_with_the_token_from_the_environment(server, tmp_path):
    server.fail(2, 429, {"Retry-After": "0"})
    output = tmp_path / "items.csv"
    result = CliRunner().invoke(
        get_app(),
        [
            "import",
            "github",
            "acme/docsum",
            "--base-url",
            server.url,
            "--labels",
            "bug",
            "-o",
            str(output),
        ],
        env={"GITHUB_TOKEN": "from-env", "GITHUB_API_URL": None},
    )
    assert result.exit_code == 0, result.output
    assert "rate limited" in said(result)
    assert "wrote" in said(result) and "3 issues" in said(result)
    assert [r["item_id"] for r in rows(output)] == ["docsum-7", "docsum-9", "docsum-15"]
    assert server.requests[0]["headers"]["Authorization"] == "Bearer from-env"


def test_cli_imports_a_json_file(tmp_path):
    output = tmp_path / "items.jsonl"
    result = CliRunner().invoke(
        get_app(), ["import", "github", str(DATA / "gh-issue-list.json"), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert len(output.read_text().splitlines()) == 3


def test_cli_reports_a_bad_repository_spec_without_a_traceback(tmp_path):
    result = CliRunner().invoke(
        get_app(), ["import", "github", "not-a-repo", "-o", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 1
    assert "is not OWNER/REPO" in said(result)
    assert "Traceback" not in result.output


# Hostile input: issues without a number, pages that never end.


@pytest.mark.parametrize("number", [None, "", "seven", 1.5, True, -1, {"n": 1}])
def test_an_issue_whose_number_is_not_a_whole_number_is_an_error_not_r_none(tmp_path, number):
    path = tmp_path / "issues.json"
    issue = {"number": number, "title": "t", "url": "https://github.com/acme/docsum/issues/1"}
    path.write_text(json.dumps([issue]))
    with pytest.raises(InterchangeError, match=r"issues\.json: entry 0: 'number' is"):
        import_issue_file(path, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def mock_client(pages):
    """An httpx client whose every GET answers one page from ``pages(request)``."""
    import httpx

    calls = []

    def handler(request):
        calls.append(str(request.url))
        body, link = pages(request)
        return httpx.Response(200, json=body, headers={"Link": link} if link else {})

    return httpx.Client(transport=httpx.MockTransport(handler)), calls


def test_an_api_issue_with_a_null_number_is_an_error(tmp_path):
    client, _ = mock_client(lambda request: ([{"number": None, "title": "x"}], None))
    with pytest.raises(InterchangeError, match="'number'"):
        fetch_issues(
            make_query("acme/docsum"), tmp_path / "o.csv", client=client, base_url="http://gh.test"
        )


def test_a_self_referencing_next_link_stops_with_an_error(tmp_path):
    def pages(request):
        return [], f'<{request.url}>; rel="next"'

    client, calls = mock_client(pages)
    with pytest.raises(InterchangeError, match="repeats a page"):
        fetch_issues(
            make_query("acme/docsum"), tmp_path / "o.csv", client=client, base_url="http://gh.test"
        )
    assert len(calls) == 1


def test_the_page_count_is_bounded(tmp_path):
    def pages(request):
        page = int(request.url.params.get("page", "1"))
        return [], f'<http://gh.test/repos/acme/docsum/issues?page={page + 1}>; rel="next"'

    client, calls = mock_client(pages)
    with pytest.raises(InterchangeError, match="more than 5 pages"):
        fetch_issues(
            make_query("acme/docsum"),
            tmp_path / "o.csv",
            client=client,
            base_url="http://gh.test",
            max_pages=5,
        )
    assert len(calls) == 5


def test_a_token_in_the_base_url_is_not_kept_in_the_resume_state(tmp_path):
    secret = "hunter2hunter2hunter2"

    def pages(request):
        return [
            {"number": 1, "title": "x"}
        ], f'<{request.url.copy_with(query=b"page=2")}>; rel="next"'

    client, _ = mock_client(pages)
    states = []

    def watch(kind, data):
        state = tmp_path / "o.csv.resume.json"
        if state.exists():
            states.append(state.read_text())

    with pytest.raises(InterchangeError):  # page 2 repeats itself: stop
        fetch_issues(
            make_query("acme/docsum"),
            tmp_path / "o.csv",
            client=client,
            base_url=f"http://user:{secret}@gh.test",
            on_event=watch,
        )
    assert states and all(secret not in state for state in states)


def test_import_issues_reads_a_json_file_of_issues_without_the_api(tmp_path):
    by_file = import_issues(DATA / "gh-issue-list.json", tmp_path / "a.csv", state="closed")
    direct = import_issue_file(DATA / "gh-issue-list.json", tmp_path / "b.csv")
    assert str(by_file) == str(direct)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_import_issues_checks_a_repository_name_before_any_request(tmp_path):
    with pytest.raises(InterchangeError, match="not OWNER/REPO"):
        import_issues("not a repo", tmp_path / "x.csv", base_url="http://127.0.0.1:9")


def test_the_state_choice_holds_the_states_the_library_accepts():
    from llmcode.cli.choices import IssueState

    assert tuple(IssueState) == STATES


@pytest.mark.parametrize("labels", ["bug,question", "bug; question", ["bug", "question"]])
def test_labels_given_as_one_string_are_names_not_characters(labels):
    """Issue 25, defect 23: ``labels: "bug,question"`` became ``b;u;g;,;q;…``."""
    from llmcode.interchange.github.rows import issue_row

    row = issue_row({"number": 1, "title": "t", "labels": labels}, "repo")
    assert row["labels"] == "bug;question"


# Issue 25, defect 15: a next link that only changes a parameter; a server that drips bytes.


def test_pages_that_bring_no_new_issue_stop_the_import(tmp_path):
    def same_page(request):
        issues = [{"number": n, "title": f"t{n}", "body": "b"} for n in (1, 2)]
        page = int(request.url.params.get("x", "0"))
        return issues, f'<{request.url.copy_set_param("x", str(page + 1))}>; rel="next"'

    client, calls = mock_client(same_page)
    with pytest.raises(InterchangeError, match="3 pages in a row brought no issue"):
        fetch_issues(
            make_query("acme/docsum"), tmp_path / "o.csv", client=client, base_url="http://gh.test"
        )
    assert len(calls) == 4
    assert [r["item_id"] for r in rows(tmp_path / "o.csv")] == ["docsum-1", "docsum-2"]


def test_a_page_sent_too_slowly_is_given_up_on_after_the_deadline(tmp_path):
    import itertools

    import httpx

    ticks = itertools.count(step=50.0)  # each look at the clock: 50 s later

    def drip(request):
        return httpx.Response(200, content=iter([b"[", b" ", b" ", b" ", b"]"]))

    client = httpx.Client(transport=httpx.MockTransport(drip))
    with pytest.raises(InterchangeError, match=r"took more than 120 s"):
        fetch_issues(
            make_query("acme/docsum"),
            tmp_path / "o.csv",
            client=client,
            base_url="http://gh.test",
            clock=lambda: next(ticks),
        )
