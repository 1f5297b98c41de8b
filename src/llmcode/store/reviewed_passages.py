"""A segment run's passages after review: each reviewer's (``export --reviewed``) and the final
table (``export --final``), one row per passage and code, with provenance.

`reviewed_passages` gives every passage a reviewer decided: the model's passages they accepted,
changed (codes) or resized (bounds), and those they added, with ``passage`` (``m<k>``: the
model's k-th passage; else added), ``action``, ``decided_by``, ``suggested`` (the model's codes)
and the model's own offsets (``model_start``, ``model_end``), ``adopted_from`` (the human coder
whose passage an ``add`` adopted) and the reviewer's ``memo``; a reject, or a memo on a passage
left undecided (action ``memo``), is one row without a code or offsets, so every decision is in
the table. `final_passages` takes, per passage, the latest verdict in effect across reviewers
(``resolved_by`` ``adjudicator``, ``automatic`` or ``model``; ``coders`` the model, or the human
coder an adopted passage came from, or the reviewer who added it) and the model's passage where
nobody decided (``single-coder``), as coder ``final``, with every reviewer's memo on it (joined
with `` | ``); a document left with no passage gets one row without a code (it was read: gaps
count in agreement). Decisions are bound to the latest record's passages by offsets and codes
(`llmcode.store.passage_binding`), so a document coded again keeps each decision on its passage.

Rows of one coder and one code that overlap (a passage widened into its neighbour, or added over
one) are merged into one passage over both — the ids, actions and deciders joined with ``+`` —
so ``agree`` and ``eval --unit segment``, which refuse one coder's overlapping passages of a
code, read the tables as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from llmcode.store.decisions import Decision, load_decisions, reviewers_ledgers
from llmcode.store.passage_binding import ModelPassages, bind_passage_decisions, model_passages
from llmcode.store.passage_ledger import PassageKey, PassageLedger, key_of, replay_passages
from llmcode.store.runs import Run

REVIEWED_COLUMNS = [
    "item_id", "coder", "code", "start", "end", "quote", "passage", "action", "decided_by",
    "suggested", "model_start", "model_end", "blind", "adopted_from", "memo",
]  # fmt: skip
FINAL_PASSAGE_COLUMNS = [
    "item_id", "coder", "code", "start", "end", "quote", "passage", "resolved_by", "adjudicator",
    "coders", "decided_by", "memo",
]  # fmt: skip
FINAL_CODER = "final"
__all__ = [
    "FINAL_PASSAGE_COLUMNS", "REVIEWED_COLUMNS", "ModelPassages", "final_passages",
    "merge_overlaps", "model_passages", "passage_ledgers", "reviewed_passages",
]  # fmt: skip


def passage_ledgers(
    run: Run, reviewer: str | None = None, model: ModelPassages | None = None
) -> dict[str, PassageLedger]:
    """Each reviewer's passage ledger, its lines bound to the latest record's passages
    (`llmcode.store.passage_binding`; ``model``: that record's passages, read when not given);
    a reviewer who also reviewed blind is taken from the blind lines only. ``reviewer`` keeps
    one (an error naming the others when absent)."""
    model = model_passages(run) if model is None else model
    decisions = bind_passage_decisions(load_decisions(run), model)
    ordinary = replay_passages(decisions, blind=False)
    blind = replay_passages(decisions, blind=True)
    return reviewers_ledgers(ordinary, blind, reviewer, run, what="passage ")


def reviewed_passages(
    run: Run, reviewer: str | None = None, *, include_rejected: bool = True
) -> pd.DataFrame:
    """Every reviewer's decided passages (or ``reviewer``'s), one row per passage and code;
    see the module docstring. Without ``include_rejected`` a reject gives no row."""
    model = model_passages(run)
    ledgers = passage_ledgers(run, reviewer, model)
    texts = {item.item_id: item.text for item in run.items()} if ledgers else {}
    order = {item_id: n for n, item_id in enumerate(texts)}
    rows: list[dict[str, Any]] = []
    for name, ledger in ledgers.items():
        own: list[dict[str, Any]] = []
        noted = [(k, d) for k, d in _memo_lines(ledger) if k not in ledger.verdicts]
        for key, verdict in [*ledger.verdicts.items(), *noted]:
            start, end, suggested = model.get(key) or _made_on(verdict)
            base = {
                "item_id": key[0],
                "coder": name,
                "passage": key[1],
                "action": verdict.action,
                "decided_by": verdict.decided_by,
                "suggested": ";".join(suggested),
                "model_start": start,
                "model_end": end,
                "blind": verdict.blind,
                "adopted_from": verdict.adopted_from or "",
                "memo": ledger.memos.get(key, ""),
            }
            if verdict.action in ("reject", "memo") or not verdict.codes:
                if include_rejected and not (verdict.blind and verdict.action == "reject"):
                    quote = _quote(texts, key[0], start, end)
                    own.append(base | {"code": "", "start": None, "end": None, "quote": quote})
                continue
            quote = _quote(texts, key[0], verdict.start, verdict.end)
            own.extend(
                base | {"code": code, "start": verdict.start, "end": verdict.end, "quote": quote}
                for code in verdict.codes
            )
        rows.extend(merge_overlaps(own, texts))
    frame = pd.DataFrame(rows, columns=REVIEWED_COLUMNS)
    return _ordered(frame, order)


def _memo_lines(ledger: PassageLedger) -> list[tuple[PassageKey, Decision]]:
    """The latest memo line of each passage with a memo."""
    latest = {key_of(d): d for d in ledger.history if d.action == "memo"}
    return [(key, latest[key]) for key in ledger.memos if key in latest]


def _made_on(decision: Decision) -> tuple[int | None, int | None, list[str]]:
    """The model passage a decision was made on, from the line itself (a passage the latest
    record no longer has, or one the reviewer added: no offsets, no codes)."""
    span = decision.model_span or (None, None)
    return span[0], span[1], list(decision.suggested)


def final_passages(run: Run) -> pd.DataFrame:
    """The final passages of a segment run (see the module docstring)."""
    model = model_passages(run)
    decisions = bind_passage_decisions(load_decisions(run), model)
    ledgers = replay_passages(decisions, blind=False)
    latest = _latest(ledgers.values())
    memos: dict[PassageKey, list[str]] = {}
    for ledger in ledgers.values():
        for key, memo in ledger.memos.items():
            memos.setdefault(key, []).append(memo)
    texts = {item.item_id: item.text for item in run.items()}
    order = {item_id: n for n, item_id in enumerate(texts)}
    model_name = run.manifest().coder
    rows: list[dict[str, Any]] = []

    def add(key: PassageKey, start: int | None, end: int | None, codes: list[str], **how: str):
        quote = _quote(texts, key[0], start, end)
        rows.extend(
            {"item_id": key[0], "coder": FINAL_CODER, "code": code, "start": start, "end": end,
             "quote": quote, "passage": key[1], "memo": " | ".join(memos.get(key, []))} | how
            for code in codes
        )  # fmt: skip

    for key, (start, end, codes) in model.items():
        if key in latest:
            continue
        if start is not None and end is not None:  # a passage not found in the text is out
            add(key, start, end, codes, resolved_by="single-coder", adjudicator="",
                coders=model_name, decided_by="model")  # fmt: skip
    for key, verdict in latest.items():
        if verdict.action == "reject" or not verdict.codes:
            continue
        route = {"automatic": "automatic", "model": "model"}.get(verdict.decided_by, "adjudicator")
        coders = model_name if key in model else verdict.adopted_from or verdict.reviewer
        add(key, verdict.start, verdict.end, verdict.codes, resolved_by=route,
            adjudicator=verdict.reviewer, coders=coders, decided_by=verdict.decided_by)  # fmt: skip
    rows = merge_overlaps(rows, texts)
    coded = {row["item_id"] for row in rows}
    for record in run.counted_codings().values():
        if record.status in ("ok", "unverified") and record.item_id not in coded:
            rows.append({"item_id": record.item_id, "coder": FINAL_CODER, "code": ""})
    return _ordered(pd.DataFrame(rows, columns=FINAL_PASSAGE_COLUMNS), order)


def merge_overlaps(rows: list[dict[str, Any]], texts: dict[str, str]) -> list[dict[str, Any]]:
    """Rows of one coder, document and code whose passages overlap become one row over both
    (string fields of provenance joined with ``+``); rows without offsets are kept as they are."""
    out: list[dict[str, Any]] = [r for r in rows if r.get("start") is None or not r.get("code")]
    spans = [r for r in rows if r.get("start") is not None and r.get("code")]
    spans.sort(key=lambda r: (r["coder"], r["item_id"], r["code"], r["start"], r["end"]))
    for row in spans:
        last = out[-1] if out else None
        same = last is not None and all(last.get(k) == row[k] for k in ("coder", "item_id", "code"))
        if last is None or not same or last.get("start") is None or row["start"] >= last["end"]:
            out.append(dict(row))
            continue
        last["end"] = max(last["end"], row["end"])
        last["quote"] = _quote(texts, row["item_id"], last["start"], last["end"])
        for name in ("passage", "action", "decided_by", "adjudicator", "coders", "resolved_by"):
            if name not in row or not row[name]:
                continue
            if not last.get(name):
                last[name] = row[name]
            elif str(row[name]) not in str(last[name]).split("+"):
                last[name] = f"{last[name]}+{row[name]}"
        notes = [n for n in (last.get("memo"), row.get("memo")) if n]
        if notes:
            last["memo"] = " | ".join(dict.fromkeys(notes))
    return out


def _latest(ledgers: Iterable[PassageLedger]) -> dict[PassageKey, Decision]:
    """Per passage, the latest verdict in effect across reviewers."""
    out: dict[PassageKey, Decision] = {}
    for ledger in ledgers:
        for key, verdict in ledger.verdicts.items():
            if key not in out or verdict.decided_at > out[key].decided_at:
                out[key] = verdict
    return out


def _quote(texts: dict[str, str], item_id: str, start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return ""
    return texts.get(item_id, "")[start:end]


def _ordered(frame: pd.DataFrame, order: dict[str, int]) -> pd.DataFrame:
    """Rows in the run's item order, then by coder and offsets; offsets as nullable integers."""
    for name in ("start", "end", "model_start", "model_end"):
        if name in frame.columns:
            frame[name] = frame[name].astype("Int64")
    if frame.empty:
        return frame.reset_index(drop=True)
    rank = frame["item_id"].map(lambda i: order.get(i, len(order)))
    frame = frame.assign(_rank=rank).sort_values(
        ["_rank", "coder", "start", "end", "code"], kind="stable", na_position="last"
    )
    return frame.drop(columns="_rank").reset_index(drop=True)
