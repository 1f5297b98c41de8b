"""Coded passages of documents, arranged for agreement: per document, per code, per coder.

Owns turning long-format segment codes (``item_id, coder, code, start, end``; offsets are
characters of the document's text, end exclusive) and the documents' texts into `DocumentSegments`:
which documents are compared (those every compared coder covered — a row for the document, an
empty code included, says the coder read it — in the texts' order; the rest are listed as
excluded, never dropped silently), and each coder's sorted units of each code. Problems raise
`AgreementError` naming the coder, the document and the passage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llmcode.errors import AgreementError
from llmcode.quality.agreement.unitizing import Spans, spans_of

SEGMENT_CODE_COLUMNS = ("item_id", "coder", "code", "start", "end")
_EMPTY: Spans = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class DocumentSegments:
    """The compared documents (in order), their lengths, and units[code][document][coder]."""

    coders: tuple[str, ...]
    documents: tuple[str, ...]
    lengths: tuple[int, ...]
    codes: tuple[str, ...]
    units: dict[str, list[list[Spans]]]
    excluded: tuple[str, ...]

    @property
    def length(self) -> int:
        """Characters of the continuum: the compared documents concatenated."""
        return int(sum(self.lengths))


def arrange_segments(
    codes: pd.DataFrame,
    texts: Mapping[str, str],
    *,
    coders: Sequence[str] | None = None,
) -> DocumentSegments:
    """Each coder's passages per document and code; ``texts`` maps item_id to text, in order.

    A coded row needs integer ``start < end`` within its document's text; a document the texts
    do not have is an error; one coder's passages of one code must not overlap.
    """
    missing = [c for c in SEGMENT_CODE_COLUMNS if c not in codes.columns]
    if missing:
        raise AgreementError(
            f"segment codes lack the column(s) {', '.join(missing)}",
            hint="segment codes have columns item_id, coder, code, start, end",
        )
    frame = codes.copy()
    for name in ("item_id", "coder"):
        frame[name] = frame[name].astype(str)
    names = tuple(coders) if coders is not None else tuple(dict.fromkeys(frame["coder"]))
    if len(names) < 2:
        raise AgreementError(
            f"segment agreement needs two coders, found {len(names)}: {', '.join(names) or '-'}",
            hint="compare two coders' passages of the same documents",
        )
    absent = [c for c in names if c not in set(frame["coder"])]
    if absent:
        raise AgreementError(f"no segment codes of coder(s) {', '.join(absent)}")
    frame = frame[frame["coder"].isin(names)]
    unknown = sorted(set(frame["item_id"]) - set(texts))
    if unknown:
        raise AgreementError(
            f"{len(unknown)} coded document(s) have no text: {', '.join(unknown[:10])}"
            + (" ..." if len(unknown) > 10 else ""),
            hint="give the documents' texts (`items`) that the codes' item_id refer to",
        )
    covered = [set(frame.loc[frame["coder"] == coder, "item_id"]) for coder in names]
    documents = tuple(d for d in texts if all(d in seen for seen in covered))
    excluded = tuple(d for d in texts if d not in documents and any(d in s for s in covered))
    if not documents:
        raise AgreementError(
            "no document was coded by every coder: " + ", ".join(names),
            hint="a coder covers a document with a row for it (an empty code if nothing applies)",
        )
    coded = frame[frame["code"].notna() & frame["item_id"].isin(documents)]
    coded = _with_offsets(coded)
    coded["code"] = coded["code"].astype(str)
    code_names = tuple(sorted(set(coded["code"].astype(str))))
    units: dict[str, list[list[Spans]]] = {code: [] for code in code_names}
    groups = dict(list(coded.groupby(["code", "item_id", "coder"], sort=False)))
    for code in code_names:
        for document in documents:
            length = len(texts[document])
            per_coder = []
            for coder in names:
                rows = groups.get((code, document, coder))
                if rows is None:
                    per_coder.append(_EMPTY)
                    continue
                try:
                    per_coder.append(spans_of(rows, 0, length, code, coder))
                except AgreementError as exc:
                    raise AgreementError(
                        f"document {document!r} ({length} characters): {exc.message}",
                        hint=exc.hint,
                    ) from exc
            units[code].append(per_coder)
    return DocumentSegments(
        coders=names,
        documents=documents,
        lengths=tuple(len(texts[d]) for d in documents),
        codes=code_names,
        units=units,
        excluded=excluded,
    )


def _with_offsets(coded: pd.DataFrame) -> pd.DataFrame:
    """start and end as integers; a coded row without them is a whole-document code, an error."""
    frame = coded.copy()
    for name in ("start", "end"):
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            row = frame[bad].iloc[0]
            raise AgreementError(
                f"coder {row['coder']!r}, document {row['item_id']!r}, code {row['code']!r}: "
                f"{name} {row[name]!r} is not a character offset",
                hint="every coded passage needs integer start and end (whole-document codes "
                "are compared as whole items, not as segments)",
            )
        frame[name] = values.astype(np.int64)
    return frame


def concatenate(
    segments: DocumentSegments, order: Sequence[int] | None = None
) -> dict[str, list[Spans]]:
    """Every code's units per coder on the continuum of the documents at ``order`` (default all,
    in order; a document may repeat, as in a bootstrap resample), placed end to end."""
    picked = list(range(len(segments.documents))) if order is None else list(order)
    lengths = np.asarray(segments.lengths, dtype=np.int64)[picked]
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    result: dict[str, list[Spans]] = {}
    for code in segments.codes:
        per_document = segments.units[code]
        result[code] = []
        for k in range(len(segments.coders)):
            starts = [per_document[d][k][0] + off for d, off in zip(picked, offsets, strict=True)]
            ends = [per_document[d][k][1] + off for d, off in zip(picked, offsets, strict=True)]
            result[code].append((np.concatenate(starts), np.concatenate(ends)))
    return result
