"""The in-flight ledger counts requests started and never recorded, across sessions."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcode.store import ledger as ledger_module
from llmcode.store.ledger import LEDGER, Ledger
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run


def record(run, item_id):
    run.append_coding(CodingRecord(item_id=item_id, status="ok"))


def test_requests_without_a_record_in_their_session_are_abandoned(tmp_path):
    run, ledger = Run(tmp_path), Ledger(tmp_path)
    ledger.session()
    ledger.started(["a"])
    record(run, "a")
    ledger.started(["b"])  # killed while b was in flight
    ledger.session()  # resumed
    ledger.started(["b"])
    record(run, "b")
    ledger.started(["c", "d"])  # one request for two items, only one recorded
    record(run, "c")
    assert ledger.settle() == 2
    assert not (tmp_path / LEDGER).exists() and ledger.settle() == 0


def test_a_torn_last_line_is_ignored(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.session()
    ledger.started(["a"])
    with (tmp_path / LEDGER).open("a") as handle:
        handle.write('{"items": ["b"')
    assert ledger.settle() == 1


def naive_abandoned(ledger_path, codings_path) -> int:
    """The count as the ledger's first version made it: whole files, sets of ids."""
    sessions: list[tuple[int, list[list[str]]]] = []
    for line in ledger_path.read_text("utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "session" in row:
            sessions.append((row["session"], []))
        elif "items" in row and sessions:
            sessions[-1][1].append(row["items"])
    data = codings_path.read_bytes() if codings_path.is_file() else b""
    total = 0
    for n, (start, requests) in enumerate(sessions):
        end = sessions[n + 1][0] if n + 1 < len(sessions) else len(data)
        recorded = set()
        for line in data[start:end].decode("utf-8").splitlines():
            try:
                recorded.add(json.loads(line)["item_id"])
            except (json.JSONDecodeError, KeyError):
                continue
        total += sum(1 for items in requests if not set(items) <= recorded)
    return total


IDS = st.sampled_from(["a", "b", 'quo"te', "back\\slash", "ünï", "c d", "e"])


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.one_of(
            st.just(("session",)),
            st.tuples(st.just("ask"), st.lists(IDS, max_size=3)),
            st.tuples(st.just("record"), IDS),
        ),
        max_size=25,
    ),
    block=st.sampled_from([1 << 24, 64, 7]),
    torn=st.booleans(),
)
def test_abandoned_requests_are_counted_as_whole_files_and_sets_count_them(
    tmp_path_factory, steps, block, torn
):
    folder = tmp_path_factory.mktemp("run")
    run, ledger = Run(folder), Ledger(folder)
    ledger.session()
    for step in steps:
        if step[0] == "session":
            ledger.session()
        elif step[0] == "ask":
            ledger.started(step[1])
        else:
            record(run, step[1])
    if torn:
        with (folder / "codings.jsonl").open("a") as handle:
            handle.write('{"item_id":"e","status":"o')
    expected = naive_abandoned(folder / LEDGER, folder / "codings.jsonl")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ledger_module, "BLOCK", block)
        assert ledger.settle() == expected
