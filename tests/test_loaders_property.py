"""Every loader, fed arbitrary bytes and mangled near-valid files, ends in a result or an
`LlmcodeError` that names the file — never another exception — within a memory bound.

Loaders: taxonomy YAML, items (CSV, JSONL, JSON), long-format codes, a run directory (manifest,
items snapshot, codings), review decisions, REFI-QDA projects (.qdpx) and GitHub issue files and
API pages. Inputs are drawn by hypothesis: random text, and valid files with random cuts,
insertions and substitutions. Each example's peak Python allocation is measured (tracemalloc);
hypothesis's ``deadline`` bounds its time generously (it catches runaway work, not speed).
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcode.codes import load_codes
from llmcode.errors import LlmcodeError
from llmcode.interchange.github import fetch_issues, import_issue_file, make_query
from llmcode.interchange.refi import read_project
from llmcode.items import load_items
from llmcode.store.decisions import load_decisions
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import load_taxonomy
from tests.support import DATA

EXAMPLES = 40
MEMORY_BOUND = 64 * 1024 * 1024  # bytes of peak Python allocation per input (they are < 4 KB)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=20_000,  # ms: generous on a loaded machine; a runaway parse takes far longer
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

TAXONOMY = (DATA / "tiny.yaml").read_text(encoding="utf-8")
ITEMS = 'item_id,text,source\n1,The soup was cold,a\n2,"Slow, ""very"" slow",b\n'
CODES = "item_id,coder,code\n1,ana,usage\n2,ana,performance\n1,ben,usage\n"
JSONL = '{"item_id": "1", "text": "hello"}\n{"item_id": "2", "text": "there"}\n'
ISSUES = json.dumps(
    [
        {
            "number": 1,
            "title": "t",
            "body": "b",
            "labels": [{"name": "bug"}],
            "html_url": "https://github.com/acme/docsum/issues/1",
        }
    ]
)
QDE = (DATA / "refi" / "foreign-project.qde").read_text(encoding="utf-8")
SPICE = [
    "\x00",
    "\ufeff",
    "\n",
    "\r",
    ",",
    '"',
    "'",
    ":",
    "- ",
    "&a ",
    "*a",
    "!!python/object ",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    "</item>",
    "\t",
    "é",
    "9" * 30,
    "null",
    "<!ENTITY x SYSTEM 'file:///etc/passwd'>",
    "&x;",
    "relative://../../x",
]


def mangled(valid: str) -> st.SearchStrategy[str]:
    """A valid file with random edits: cut, insert, replace, duplicate a slice."""
    edit = st.tuples(
        st.sampled_from(["cut", "insert", "replace", "repeat"]),
        st.integers(0, len(valid)),
        st.integers(0, 40),
        st.one_of(st.sampled_from(SPICE), st.text(max_size=8)),
    )

    def apply(edits: list[tuple[str, int, int, str]]) -> str:
        text = valid
        for kind, at, size, piece in edits:
            at = min(at, len(text))
            if kind == "cut":
                text = text[:at] + text[at + size :]
            elif kind == "insert":
                text = text[:at] + piece + text[at:]
            elif kind == "replace":
                text = text[:at] + piece + text[at + len(piece) :]
            else:
                text = text[:at] + text[at : at + size] * 3 + text[at:]
        return text

    return st.lists(edit, min_size=1, max_size=4).map(apply)


def inputs(valid: str) -> st.SearchStrategy[bytes]:
    text = st.one_of(mangled(valid), st.text(max_size=300))
    return st.one_of(
        text.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=300)
    )


def ends_well(load: Callable[[Path], object], path: Path, named: str | None = None) -> None:
    """``load(path)`` returns, or raises an LlmcodeError naming the file; memory stays bounded."""
    tracemalloc.start()
    try:
        load(path)
    except LlmcodeError as exc:
        assert (named or path.name) in str(exc), f"error does not name the file: {exc}"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak} bytes to load a {path.stat().st_size}-byte file"


def written(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@FUZZ
@given(data=inputs(TAXONOMY))
def test_taxonomy_loader(tmp_path, data):
    ends_well(load_taxonomy, written(tmp_path, "t.yaml", data))


@FUZZ
@given(data=inputs(ITEMS), suffix=st.sampled_from([".csv", ".tsv"]))
def test_items_loader_csv(tmp_path, data, suffix):
    ends_well(load_items, written(tmp_path, "i" + suffix, data))


@FUZZ
@given(data=st.one_of(inputs(JSONL), inputs(ISSUES)), suffix=st.sampled_from([".jsonl", ".json"]))
def test_items_loader_json(tmp_path, data, suffix):
    ends_well(load_items, written(tmp_path, "i" + suffix, data))


@FUZZ
@given(data=st.one_of(inputs(CODES), inputs(JSONL)), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_codes_loader(tmp_path, data, suffix):
    ends_well(load_codes, written(tmp_path, "c" + suffix, data))


def a_run(tmp_path: Path) -> Path:
    """A small valid run directory to mangle."""
    from llmcode.items import Item
    from llmcode.store.models import CodingRecord, RunConfig, RunManifest

    root = tmp_path / "runs"
    if not (root / "r").exists():
        run = RunStore(root).create("r")
        run.write_manifest(
            RunManifest(run_id="r", config=RunConfig(taxonomy_path="t", items_path="i"))
        )
        run.write_items([Item(item_id="1", text="hello")])
        run.append_coding(CodingRecord(item_id="1", status="ok"))
        (run.path / "taxonomy.yaml").write_text(TAXONOMY)
    return root / "r"


RUN_FILES = {
    "manifest.json": json.dumps(
        {"run_id": "r", "config": {"taxonomy_path": "t", "items_path": "i"}}
    ),
    "codings.jsonl": '{"item_id": "1", "status": "ok"}\n{"item_id": "2", "status": "error"}\n',
    "items.jsonl": JSONL,
    "decisions.jsonl": '{"item_id": "1", "reviewer": "ana", "action": "accept", "codes": ["x"]}\n',
}


@FUZZ
@given(name=st.sampled_from(sorted(RUN_FILES)), data=st.data())
def test_run_and_decisions_loaders(tmp_path, name, data):
    run_path = a_run(tmp_path)
    raw = data.draw(inputs(RUN_FILES[name]))
    (run_path / name).write_bytes(raw)

    def load(_: Path) -> None:
        run = RunStore(run_path.parent).open("r")
        run.manifest()
        run.items()
        run.latest_codings()
        load_decisions(run)

    ends_well(load, run_path / name, named="r")


@FUZZ
@given(qde=inputs(QDE), source=st.binary(max_size=200))
def test_qdpx_loader(tmp_path, qde, source):
    path = tmp_path / "p.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde)
        archive.writestr("sources/d0d0d0d0-0000-4000-8000-000000000001.txt", source)
    ends_well(read_project, path)


@FUZZ
@given(data=inputs(ISSUES))
def test_github_issue_file_loader(tmp_path, data):
    path = written(tmp_path, "issues.json", data)
    out = tmp_path / "out.csv"
    out.unlink(missing_ok=True)
    ends_well(lambda p: import_issue_file(p, out, repo="acme/docsum"), path)


@FUZZ
@given(
    page=inputs(ISSUES),
    link=st.sampled_from(
        [
            "",
            '<http://gh.test/p2>; rel="next"',
            '<http://gh.test/repos/acme/docsum/issues?state=all&per_page=100&sort=created&direction=asc>; rel="next"',  # noqa: E501
            "<<>>; rel=next",
            "garbage",
        ]
    ),
)
def test_github_api_pages(tmp_path, page, link):
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Link": link} if link and "p2" not in str(request.url) else {}
        return httpx.Response(200, content=page, headers=headers)

    out = tmp_path / "api.csv"
    for stale in (out, out.with_name(out.name + ".resume.json")):
        stale.unlink(missing_ok=True)
    client = httpx.Client(transport=httpx.MockTransport(handler))

    def load(_: Path) -> None:
        fetch_issues(
            make_query("acme/docsum"),
            out,
            client=client,
            base_url="http://gh.test",
            sleep=lambda s: None,
        )

    ends_well(load, tmp_path, named="GitHub")
