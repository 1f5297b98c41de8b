"""Gold samples: a seeded (optionally stratified) draw of items with a dev/test split, its sidecar.

`draw_sample` picks ``n`` rows of an item table at random with a seed (the same seed and table
give the same sample), proportionally per stratum when a column is given (largest remainders,
ties broken by the seed, at least none dropped silently), and marks ``round(n × test_share)``
of them ``test`` (split proportionally per stratum too), the rest ``dev``. Every item column is
kept so a person can code the file anywhere. The sidecar ``<file>.json`` says how it was drawn
and records every evaluation on the test split (`record_test_look`), so a second look at the
test split with another run can be called out. `gold_in_split` keeps the gold codes of one split
(refusing a split file that shares no item with the gold, warning about gold items outside it)
and `second_look_warnings` records a look at the test split and says when it is a second one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmcode.csvfiles import guard_frame, write_csv
from llmcode.errors import CodesError, ConfigError, ItemsError, OutputError
from llmcode.items import file_sha256, read_table
from llmcode.store.jsonl import atomic_write

SPLITS = ("dev", "test")
WRITERS = (".csv", ".tsv", ".jsonl", ".xlsx", ".parquet")


def sidecar_path(path: str | Path) -> Path:
    """``gold.csv`` -> ``gold.csv.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def draw_sample(
    items: pd.DataFrame,
    n: int,
    *,
    seed: int,
    stratify: str | None = None,
    test_share: float = 0.5,
    id_column: str = "item_id",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The sample (item columns plus ``split``, in drawn order) and how it was drawn."""
    if id_column not in items.columns:
        raise ItemsError(
            f"no id column '{id_column}'; columns are: {', '.join(items.columns)}",
            hint="choose it with id_column",
        )
    if not 0.0 <= test_share <= 1.0:
        raise ConfigError(f"test_share must be between 0 and 1, not {test_share}")
    if n < 1 or n > len(items):
        raise ConfigError(
            f"cannot draw {n} of {len(items)} items", hint=f"choose -n between 1 and {len(items)}"
        )
    ids = items[id_column].astype(str).str.strip()
    repeated = sorted(set(ids[ids.duplicated()]))
    if repeated:
        raise ItemsError(
            f"duplicate {id_column}: {', '.join(repeated[:10])}"
            + (f" and {len(repeated) - 10} more" if len(repeated) > 10 else ""),
            hint="a gold sample needs unique item ids (its codes are matched by id)",
        )
    if stratify is not None and stratify not in items.columns:
        raise ItemsError(
            f"no column '{stratify}' to stratify by; columns are: {', '.join(items.columns)}"
        )
    rng = np.random.default_rng(seed)
    groups = (
        {"(all)": np.arange(len(items))}
        if stratify is None
        else {
            str(key): np.flatnonzero((items[stratify] == key).to_numpy())
            for key in sorted(items[stratify].unique(), key=str)
        }
    )
    sizes = allocate(n, {key: len(rows) for key, rows in groups.items()}, rng)
    tests = allocate(round(n * test_share), sizes, rng)
    chosen: list[int] = []
    splits: list[str] = []
    strata: dict[str, dict[str, int]] = {}
    for key, rows in groups.items():
        picked = rng.permutation(rows)[: sizes[key]]
        chosen.extend(picked)
        splits.extend(["test"] * tests[key] + ["dev"] * (sizes[key] - tests[key]))
        strata[key] = {
            "population": len(rows),
            "sample": sizes[key],
            "test": tests[key],
            "dev": sizes[key] - tests[key],
        }
    order = rng.permutation(len(chosen))  # strata interleaved: no order effect when coding
    sample = items.iloc[np.array(chosen)[order]].copy()
    sample["split"] = np.array(splits, dtype=object)[order]
    info: dict[str, Any] = {
        "n": n,
        "seed": seed,
        "stratify": stratify,
        "test_share": test_share,
        "id_column": id_column,
        "counts": {split: int((sample["split"] == split).sum()) for split in SPLITS},
        "strata": strata if stratify is not None else {},
        "method": "simple random sample without replacement"
        if stratify is None
        else f"stratified by '{stratify}', proportional allocation (largest remainders)",
    }
    return sample.reset_index(drop=True), info


def allocate(total: int, sizes: dict[str, int], rng: np.random.Generator) -> dict[str, int]:
    """Split ``total`` over groups in proportion to ``sizes`` (largest remainders, seeded ties),
    never more than a group holds."""
    population = sum(sizes.values())
    if population == 0:
        return dict.fromkeys(sizes, 0)
    exact = {key: total * size / population for key, size in sizes.items()}
    out = {key: min(int(np.floor(value)), sizes[key]) for key, value in exact.items()}
    tiebreak = dict(zip(sizes, rng.random(len(sizes)), strict=True))
    while sum(out.values()) < total:
        open_keys = [key for key in sizes if out[key] < sizes[key]]
        key = max(open_keys, key=lambda k: (exact[k] - out[k], tiebreak[k]))
        out[key] += 1
    return out


def write_sample(sample: pd.DataFrame, info: dict[str, Any], path: Path, source: Path) -> Path:
    """Write the sample (by suffix) and its sidecar; returns the sidecar's path."""
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise ConfigError(f"{path}: cannot write '{suffix}'", hint=f"use {', '.join(WRITERS)}")
    if path.exists() and Path(source).exists() and path.samefile(source):
        raise ConfigError(
            f"{path}: is the items file the sample is drawn from; writing it would replace the "
            "items with the sample",
            hint="write the sample to another file, e.g. -o gold.csv",
        )
    earlier = _earlier_sidecar(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".csv", ".tsv"):
        text = write_csv(sample, sep="\t" if suffix == ".tsv" else ",") or ""
        atomic_write(path, text, OutputError)
    elif suffix == ".jsonl":
        sample.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".xlsx":
        guard_frame(sample).to_excel(path, index=False)
    else:
        sample.to_parquet(path, index=False)
    sidecar = {
        **info,
        "file": path.name,
        "source": str(source),
        "source_sha256": file_sha256(source),
        "created_at": _now(),
        # append-only across re-runs: a redrawn sample keeps the looks at the test split
        "test_evaluations": list(earlier.get("test_evaluations", [])),
    }
    if earlier:
        previous = {k: v for k, v in earlier.items() if k not in ("test_evaluations", "redrawn")}
        sidecar["redrawn"] = [*earlier.get("redrawn", []), previous]
    atomic_write(
        sidecar_path(path), json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n", OutputError
    )
    return sidecar_path(path)


def _earlier_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar a sample written to ``path`` before left (empty when there is none)."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise CodesError(
            f"{sidecar}: not valid JSON ({exc.msg}); it holds the looks at the test split",
            hint="restore it, or delete it knowingly before drawing again",
        ) from exc
    return data if isinstance(data, dict) else {}


def load_split(path: str | Path, split: str | None) -> tuple[list[str], dict[str, list[str]]]:
    """The item ids of ``split`` (all ids when None) and every split's ids, from a split file."""
    if split is not None and split not in SPLITS:
        raise ConfigError(f"split must be dev or test, not '{split}'")
    frame = read_table(path, error=CodesError)
    missing = [c for c in ("item_id", "split") if c not in frame.columns]
    if missing:
        raise CodesError(
            f"{path}: no column {', '.join(missing)}; columns are: {', '.join(frame.columns)}",
            hint="a split file is what `llmcode sample` writes: item_id, ..., split",
        )
    unknown = sorted(set(frame["split"]) - set(SPLITS))
    if unknown:
        raise CodesError(f"{path}: unknown split value(s) {', '.join(unknown)}", hint="dev or test")
    by_split = {s: list(frame.loc[frame["split"] == s, "item_id"].str.strip()) for s in SPLITS}
    ids = list(frame["item_id"].str.strip()) if split is None else by_split[split]
    return ids, by_split


def record_test_look(path: str | Path, runs: list[str]) -> list[dict[str, Any]]:
    """Record an evaluation of ``runs`` on the test split in the sidecar. Returns the earlier
    looks when this one evaluates a run none of them did (the second look to warn about)."""
    sidecar = sidecar_path(path)
    data: dict[str, Any] = {}
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise CodesError(f"{sidecar}: not valid JSON ({exc.msg})") from exc
    looks = list(data.get("test_evaluations", []))
    seen = {run for look in looks for run in look.get("runs", [])}
    earlier = list(looks) if looks and set(runs) - seen else []
    looks.append({"runs": list(runs), "at": _now()})
    data["test_evaluations"] = looks
    sidecar.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return earlier


def gold_in_split(
    gold: pd.DataFrame, path: str | Path, split: str | None
) -> tuple[pd.DataFrame, list[str]]:
    """The gold codes whose items are in ``split`` of the split file ``path`` (every split when
    None), and warnings about gold items the file does not list (left out)."""
    items, by_split = load_split(path, split)
    known = {i for ids in by_split.values() for i in ids}
    ids = set(map(str, gold["item_id"]))
    if not ids & known:
        raise ConfigError(
            f"{path}: none of the gold items is in the split file",
            hint="pass the split file the gold sample was drawn with",
        )
    warnings = []
    outside = sorted(ids - known)
    if outside:
        shown = ", ".join(outside[:10]) + (" ..." if len(outside) > 10 else "")
        warnings.append(f"{len(outside)} gold item(s) are not in {path} and are left out: {shown}")
    return gold[gold["item_id"].isin(set(items))], warnings


def second_look_warnings(path: str | Path, runs: list[str]) -> list[str]:
    """Record that ``runs`` were evaluated on the test split of ``path``; a warning when an
    earlier evaluation there did not include them (the test split is for one final look)."""
    earlier = record_test_look(path, runs)
    if not earlier:
        return []
    seen = ", ".join(dict.fromkeys(r for look in earlier for r in look["runs"]))
    return [
        f"second look at the test split of {path}: runs already evaluated there: "
        f"{seen} ({len(earlier)} earlier evaluation(s)); the test split is for one "
        "final evaluation — compare configurations on dev"
    ]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
