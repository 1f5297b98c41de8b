"""The second look: keep, dispute (flag), drop (multi-label) and replace (single-label)."""

from __future__ import annotations

import asyncio

from llmcode.coding.verify import Verifier
from llmcode.errors import BackendError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.evidence import Span
from llmcode.llm.prompts import VERIFY_SYSTEM, VERIFY_USER, load_prompts
from llmcode.store.models import CodingRecord
from llmcode.taxonomy.model import load_taxonomy
from tests.support import DATA

ITEM = Item("x1", "CUDA out of memory when I call generate(). How do I set max_length?")


def record(*codes: str) -> CodingRecord:
    return CodingRecord(
        item_id="x1",
        status="ok",
        attempts=1,
        codes=[
            CodeAssignment(
                code=c,
                justification=f"fits {c}",
                evidence=[Span(quote="CUDA out of memory", start=0, end=18, verified=True)],
                confidence=0.8,
            )
            for c in codes
        ],
    )


def verifier(backend: FakeBackend, mode: str = "flag", multi_label: bool = False) -> Verifier:
    taxonomy = load_taxonomy(DATA / "tiny.yaml").model_copy(update={"multi_label": multi_label})
    prompts = load_prompts(names=(VERIFY_SYSTEM, VERIFY_USER))
    return Verifier(taxonomy, prompts, backend, mode=mode)  # type: ignore[arg-type]


def keep() -> dict:
    return {"verdict": "keep", "reason": "memory limits", "alternative": None}


def reject(alternative: str | None = "resources") -> dict:
    return {"verdict": "reject", "reason": "it is about memory", "alternative": alternative}


def run(v: Verifier, r: CodingRecord) -> CodingRecord:
    return asyncio.run(v.verify(r, ITEM))


def test_a_kept_code_stays_and_the_check_is_recorded() -> None:
    backend = FakeBackend([keep()])
    out = run(verifier(backend), record("resources"))
    assert [c.code for c in out.codes] == ["resources"]
    assert not out.codes[0].disputed
    assert [(c.code, c.verdict, c.outcome) for c in out.checks] == [("resources", "keep", "kept")]
    assert out.attempts == 2 and out.prompt_tokens > 0


def test_the_check_sees_definition_justification_and_quotes() -> None:
    backend = FakeBackend([keep()])
    run(verifier(backend), record("usage"))
    user = backend.calls[0].messages[-1]["content"]
    assert "How to call or configure the model." in user
    assert "Exclude: Crashes from memory (resources)" in user
    assert "fits usage" in user and '"CUDA out of memory"' in user
    assert backend.calls[0].schema["properties"]["verdict"]["enum"] == ["keep", "reject"]


def test_a_rejected_code_is_kept_but_disputed_with_the_reason() -> None:
    backend = FakeBackend([reject()])
    out = run(verifier(backend), record("usage"))
    assert [(c.code, c.disputed) for c in out.codes] == [("usage", True)]
    (check,) = out.checks
    assert (check.outcome, check.reason, check.alternative) == (
        "disputed",
        "it is about memory",
        "resources",
    )


def test_drop_removes_a_rejected_code_in_multi_label() -> None:
    backend = FakeBackend([reject(None), keep()])
    out = run(verifier(backend, "drop", multi_label=True), record("usage", "resources"))
    assert [c.code for c in out.codes] == ["resources"]
    assert [c.outcome for c in out.checks] == ["dropped", "kept"]


def test_drop_replaces_a_rejected_single_label_code_by_the_alternative() -> None:
    backend = FakeBackend([reject("resources")])
    out = run(verifier(backend, "drop"), record("usage"))
    assert [c.code for c in out.codes] == ["resources"]
    assert out.codes[0].justification.startswith("second look:")
    assert out.checks[0].code == "usage" and out.checks[0].outcome == "replaced"


def test_drop_without_an_alternative_gives_none() -> None:
    backend = FakeBackend([reject(None)])
    out = run(verifier(backend, "drop"), record("usage"))
    assert [c.code for c in out.codes] == ["none"]


def test_a_failed_check_keeps_the_code_and_says_why() -> None:
    backend = FakeBackend([BackendError("boom"), "not json", "still not"])
    out = run(verifier(backend, multi_label=True), record("usage", "resources"))
    assert [c.code for c in out.codes] == ["usage", "resources"]
    assert [c.outcome for c in out.checks] == ["failed", "failed"]
    assert out.checks[0].error == "boom"
    assert out.checks[1].calls == 2  # one re-ask on an invalid answer


def test_an_invalid_check_answer_is_asked_again() -> None:
    backend = FakeBackend(["{}", reject()])
    out = run(verifier(backend), record("usage"))
    assert out.checks[0].outcome == "disputed" and out.checks[0].calls == 2
    assert '"verdict"' in backend.calls[1].messages[-1]["content"]
    assert out.attempts == 3


def test_none_and_error_records_are_not_checked() -> None:
    backend = FakeBackend([])
    none = run(verifier(backend), record("none"))
    assert none.checks == []
    failed = CodingRecord(item_id="x1", status="error", error="x")
    assert run(verifier(backend), failed) == failed
    assert backend.calls == []
