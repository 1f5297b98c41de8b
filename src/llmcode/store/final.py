"""The final table: each item's final codes and the route each took to it.

An adjudication (``llmcode adjudicate``) snapshots the codes of the coders it resolves —
human coders, and the run's model with ``with_model`` — in ``runs/<id>/coders.csv`` (long
format: item_id, coder, code, memo). The final codes of an item are then, in this order:

- ``adjudicator`` or ``model``: an adjudication decision in effect (the latest, if several
  adjudicators decided), made by a person or by a model as tie-breaker;
- ``agreement``: two or more coders gave the same codes;
- ``single-coder``: one coder coded the item;
- for an item no snapshot coder coded, the run's own codes: a review verdict in effect makes
  it ``adjudicator`` (a person decided), ``automatic`` (accepted above a confidence threshold)
  or ``model``; without one, the model's codes are ``single-coder``.

An item whose coders disagree and that nobody resolved has no final code: the table is refused,
naming those items. A verdict that no code applies is the code ``none``. Rows carry ``coder``
``final`` so every reader of long-format codes (analyze, report, eval, agree, sample) takes
the table as one more coder.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from llmcode.codes import load_codes
from llmcode.csvfiles import write_csv
from llmcode.errors import ConfigError, RunStoreError
from llmcode.store.decisions import Decision, Ledger, load_decisions, replay
from llmcode.store.jsonl import atomic_write
from llmcode.store.runs import Run, load_run_codes
from llmcode.taxonomy.model import NONE_CODE

CODERS = "coders.csv"
ROUTES = ("agreement", "adjudicator", "model", "automatic", "single-coder")
FINAL_CODER = "final"
FINAL_COLUMNS = ["item_id", "code", "resolved_by", "adjudicator", "coders", "coder", "memo"]
CodeSets = dict[str, dict[str, list[str]]]  # item_id -> coder -> codes


@dataclass(frozen=True)
class Disagreement:
    """An item whose coders gave different codes: each coder's codes and memo."""

    item_id: str
    codes: dict[str, list[str]]
    memos: dict[str, str]
    humans_disagree: bool
    """The human coders disagree among themselves (not only with the model)."""


def coder_codes(
    run: Run,
    human: pd.DataFrame,
    coders: list[str] | None = None,
    *,
    with_model: bool = False,
) -> pd.DataFrame:
    """The codes to adjudicate: ``coders``' rows of ``human`` (every coder when None) on the
    run's items, plus the run's model as one more coder with ``with_model``."""
    frame = human.copy()
    if "memo" not in frame.columns:
        frame["memo"] = ""
    known = list(dict.fromkeys(frame["coder"]))
    if coders:
        unknown = [c for c in coders if c not in known]
        if unknown:
            raise ConfigError(
                f"no coder {', '.join(unknown)} in the human codes",
                hint=f"coders there: {', '.join(known)}",
            )
        frame = frame[frame["coder"].isin(coders)]
    ids = {item.item_id for item in run.items()}
    frame = frame[frame["item_id"].isin(ids)]
    if frame.empty:
        raise ConfigError(
            "the human codes share no item_id with this run",
            hint="give the codes file of the run's items (`human`)",
        )
    frame = frame[["item_id", "coder", "code", "memo"]]
    if with_model:
        model = load_run_codes(run)
        model = model.assign(memo=model["justification"])[["item_id", "coder", "code", "memo"]]
        frame = pd.concat([frame, model], ignore_index=True)
    if frame["coder"].nunique() < 2:
        raise ConfigError(
            "adjudication needs two coders or more",
            hint="give two coders (`coders`) or add the model (`with_model`)",
        )
    return frame.fillna("").reset_index(drop=True)


def save_coders(run: Run, frame: pd.DataFrame) -> None:
    """Snapshot the adjudicated coders' codes in the run (what ``final_codes`` reads)."""
    atomic_write(run.path / CODERS, (write_csv(frame) or "").encode(), RunStoreError)


def load_coders(run: Run) -> pd.DataFrame | None:
    """The adjudicated coders' codes, or None before any adjudication."""
    path = run.path / CODERS
    if not path.exists():
        return None
    frame = load_codes(path)
    return frame.assign(memo=frame.get("memo", "")).fillna("")


def code_sets(frame: pd.DataFrame) -> tuple[CodeSets, dict[str, dict[str, str]]]:
    """Each item's codes and memo per coder; a coder who gave no code gave ``none``."""
    codes: CodeSets = {}
    memos: dict[str, dict[str, str]] = {}
    for item_id, coder, code, memo in frame[["item_id", "coder", "code", "memo"]].itertuples(
        index=False
    ):
        given = codes.setdefault(item_id, {}).setdefault(coder, [])
        if code and code not in given:
            given.append(code)
        if memo and not memos.setdefault(item_id, {}).get(coder):
            memos[item_id][coder] = str(memo)
    for per_coder in codes.values():
        for coder, given in per_coder.items():
            if not given or (len(given) > 1 and NONE_CODE in given):
                per_coder[coder] = [c for c in given if c != NONE_CODE] or [NONE_CODE]
    return codes, memos


def disagreements(run: Run, frame: pd.DataFrame, model: str | None = None) -> list[Disagreement]:
    """The items whose coders disagree: those where the human coders (every coder but
    ``model``) disagree first, then the rest, each group in the run's order."""
    codes, memos = code_sets(frame)
    order = {item.item_id: n for n, item in enumerate(run.items())}
    out = []
    for item_id, per_coder in codes.items():
        if len(per_coder) < 2 or _agree(per_coder):
            continue
        humans = {c: v for c, v in per_coder.items() if c != model}
        out.append(
            Disagreement(
                item_id, per_coder, memos.get(item_id, {}), len(humans) > 1 and not _agree(humans)
            )
        )
    return sorted(out, key=lambda d: (not d.humans_disagree, order.get(d.item_id, len(order))))


def unresolved(run: Run, items: list[Disagreement]) -> list[Disagreement]:
    """The disagreements no adjudication decision in effect resolves."""
    decided = _adjudicated(load_decisions(run))
    return [d for d in items if d.item_id not in decided]


def final_codes(run: Run) -> pd.DataFrame:
    """The final table (see the module docstring); refused while disagreements are open."""
    decisions = load_decisions(run)
    adjudicated = _adjudicated(decisions)
    snapshot = load_coders(run)
    codes, memos = code_sets(snapshot) if snapshot is not None else ({}, {})
    open_items = [
        i for i, per in codes.items() if len(per) > 1 and not _agree(per) and i not in adjudicated
    ]
    if open_items:
        raise ConfigError(
            f"{len(open_items)} item(s) where the coders disagree are not adjudicated yet: "
            + ", ".join(open_items[:10])
            + (" ..." if len(open_items) > 10 else ""),
            hint=f"resolve them: llmcode adjudicate {run.run_id} (or with --tie-breaker model)",
        )
    reviewed = _latest(replay(decisions, blind=False))
    model_codes = load_run_codes(run)
    model_name = run.manifest().coder
    by_model: dict[str, list[str]] = {}
    justification: dict[str, str] = {}
    for item_id, code, why in model_codes[["item_id", "code", "justification"]].itertuples(
        index=False
    ):
        by_model.setdefault(item_id, []).append(code)
        justification.setdefault(item_id, why)
    rows: list[dict[str, str]] = []

    def add(item_id: str, chosen: list[str], route: str, who: str, coders: str, memo: str) -> None:
        for code in chosen or [NONE_CODE]:
            rows.append(
                {
                    "item_id": item_id,
                    "code": code,
                    "resolved_by": route,
                    "adjudicator": who,
                    "coders": coders,
                    "coder": FINAL_CODER,
                    "memo": memo,
                }
            )

    for item in run.items():
        item_id = item.item_id
        per_coder = codes.get(item_id, {})
        if item_id in adjudicated:
            d = adjudicated[item_id]
            route = "model" if d.decided_by == "model" else "adjudicator"
            coders = list(d.adjudication.coders) if d.adjudication else list(per_coder)
            add(item_id, d.codes, route, d.reviewer, ";".join(coders), d.memo)
        elif len(per_coder) > 1:
            first = next(iter(per_coder.values()))
            memo = "; ".join(f"{c}: {m}" for c, m in memos.get(item_id, {}).items())
            add(item_id, first, "agreement", "", ";".join(per_coder), memo)
        elif per_coder:
            (coder, given), *_ = per_coder.items()
            add(item_id, given, "single-coder", "", coder, memos.get(item_id, {}).get(coder, ""))
        elif item_id in reviewed:
            d = reviewed[item_id]
            route = {"automatic": "automatic", "model": "model"}.get(d.decided_by, "adjudicator")
            add(item_id, d.codes, route, d.reviewer, model_name, d.memo)
        elif item_id in by_model:
            add(item_id, by_model[item_id], "single-coder", "", model_name, justification[item_id])
    return pd.DataFrame(rows, columns=FINAL_COLUMNS)


def route_counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many final codes came from each route (every route, zero included)."""
    counts = frame["resolved_by"].value_counts() if "resolved_by" in frame.columns else {}
    return {route: int(counts.get(route, 0)) for route in ROUTES}


ROUTE_MEANINGS = {
    "agreement": "two or more coders gave the same codes",
    "adjudicator": "a person resolved the coders' disagreement (or reviewed the model's codes)",
    "model": "a model broke the tie, seeing each coder's codes and memos",
    "automatic": "accepted above a confidence threshold: no one looked",
    "single-coder": "one coder coded the item (a human, or the model alone)",
}
"""What each route (``resolved_by``) means, in the report's words."""


def route_rows(routes: dict[str, int]) -> list[tuple[str, int, float | None, str]]:
    """Each route with its number of final codes, their share and what the route means."""
    total = sum(routes.values())
    return [
        (route, routes[route], routes[route] / total if total else None, ROUTE_MEANINGS[route])
        for route in ROUTES
    ]


def route_sentence(routes: dict[str, int]) -> str:
    """ "43 by agreement, 9 by a model, ..." with every route, so a zero is said too."""
    words = {
        "agreement": "by agreement",
        "adjudicator": "by an adjudicator",
        "model": "by a model",
        "automatic": "accepted automatically",
        "single-coder": "from a single coder",
    }
    total = sum(routes.values())
    return f"{total} code(s): " + ", ".join(f"{routes[r]} {words[r]}" for r in ROUTES)


def _agree(per_coder: dict[str, list[str]]) -> bool:
    sets = [frozenset(codes) for codes in per_coder.values()]
    return all(s == sets[0] for s in sets)


def _adjudicated(decisions: list[Decision]) -> dict[str, Decision]:
    return _latest(replay(decisions, adjudication=True))


def _latest(ledgers: dict[str, Ledger]) -> dict[str, Decision]:
    """Per item, the latest verdict in effect across reviewers."""
    out: dict[str, Decision] = {}
    for ledger in ledgers.values():
        for item_id, verdict in ledger.verdicts.items():
            if item_id not in out or verdict.decided_at > out[item_id].decided_at:
                out[item_id] = verdict
    return out
