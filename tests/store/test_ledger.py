"""The in-flight ledger counts requests started and never recorded, across sessions."""

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
