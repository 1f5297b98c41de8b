"""Benchmark `llmcode.quality.agreement` against the krippendorff package and NLTK (not a test).

    PYTHONPATH=src python benchmarks/agreement.py [--items 100000] [--repeat 3]

Data: simulated long-format codes, 3 coders, 5 codes, each coder skipping 10% of the items.
Times are the best of --repeat runs (wall clock, this machine). Targets from issue 3: every
coefficient for 100,000 items in under 2 s; α at least as fast as the krippendorff package and
≥ 10× NLTK; 1,000 bootstrap resamples of 10,000 items in under 10 s. Issue 24: every coefficient
for 100,000 items × 3 coders in under 0.5 s (the ratio to that target is printed). NLTK is run
on a subsample and extrapolated linearly (its cost grows at least linearly, so this flatters it).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import krippendorff
import numpy as np
import pandas as pd
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import binary_distance, masi_distance

from llmcode.quality.agreement import build_ratings, compute_agreement, krippendorff_alpha

CODES = np.array(["access", "cost", "quality", "staff", "trust"])
CODERS = ("ana", "ben", "gpt-4o-mini")


def simulate(n_items: int, seed: int = 0, multi_label: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(CODES), n_items)
    truth_sets = rng.random((n_items, len(CODES))) < 0.3
    frames = []
    for coder in CODERS:
        coded = np.flatnonzero(rng.random(n_items) > 0.1)
        if multi_label:
            sets = truth_sets[coded] ^ (rng.random((len(coded), len(CODES))) < 0.1)
            sets[~sets.any(axis=1), 0] = True
            rows, cols = np.nonzero(sets)
            items, codes = coded[rows], CODES[cols]
        else:
            guess = np.where(rng.random(n_items) < 0.7, truth, rng.integers(0, len(CODES), n_items))
            items, codes = coded, CODES[guess[coded]]
        ids = np.char.add("item-", np.char.zfill(items.astype(str), 6))
        frames.append(pd.DataFrame({"item_id": ids, "coder": coder, "code": codes}))
    return pd.concat(frames, ignore_index=True)


def best(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def nltk_alpha(codes: pd.DataFrame, multi_label: bool) -> float:
    if multi_label:
        values = codes.groupby(["coder", "item_id"])["code"].agg(frozenset)
        task = AnnotationTask(
            data=[(c, i, v) for (c, i), v in values.items()], distance=masi_distance
        )
    else:
        triples = codes[["coder", "item_id", "code"]].itertuples(index=False, name=None)
        task = AnnotationTask(data=list(triples), distance=binary_distance)
    return task.alpha()


def subsample(codes: pd.DataFrame, n_items: int) -> pd.DataFrame:
    keep = codes["item_id"].drop_duplicates().iloc[:n_items]
    return codes[codes["item_id"].isin(set(keep))]


def line(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<58} {seconds * 1000:9.1f} ms  {note}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nltk-items", type=int, default=5_000)
    parser.add_argument("--bootstrap-items", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=1_000)
    args = parser.parse_args()
    n, repeat = args.items, args.repeat

    codes = simulate(n)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"single-label: {n:,} items × {len(CODERS)} coders, {len(codes):,} rows")
    everything = best(lambda: compute_agreement(codes), repeat)
    line("llmcode: every coefficient + per-code + pairwise (from rows)", everything)
    build = best(lambda: build_ratings(codes), repeat)
    line("llmcode: long format -> item × coder matrix", build)

    def our_alpha_only() -> float:
        ratings = build_ratings(codes)  # fresh, nothing cached
        start = time.perf_counter()
        krippendorff_alpha(ratings)
        return time.perf_counter() - start

    ours_alpha = min(our_alpha_only() for _ in range(repeat))
    line("llmcode: α (nominal) on the matrix", ours_alpha)
    ours_alpha_total = best(lambda: krippendorff_alpha(build_ratings(codes)), repeat)
    line("llmcode: α (nominal) from rows", ours_alpha_total)

    def their_matrix() -> np.ndarray:
        table = codes.pivot(index="item_id", columns="coder", values="code")
        position = {code: float(i) for i, code in enumerate(CODES)}
        return table.apply(lambda column: column.map(position)).to_numpy(dtype=float).T

    matrix = their_matrix()
    theirs_alpha = best(
        lambda: krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), repeat
    )
    line("krippendorff: α (nominal) on the matrix", theirs_alpha)
    theirs_total = best(
        lambda: krippendorff.alpha(reliability_data=their_matrix(), level_of_measurement="nominal"),
        repeat,
    )
    line("krippendorff: α (nominal) from rows (pandas pivot + α)", theirs_total)
    same = abs(
        krippendorff_alpha(build_ratings(codes))
        - krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    )
    small = subsample(codes, args.nltk_items)
    nltk_small = best(lambda: nltk_alpha(small, multi_label=False), 1)
    nltk_total = nltk_small * n / args.nltk_items
    line(f"NLTK: α (nominal) on {args.nltk_items:,} items", nltk_small)
    line(
        f"NLTK: α (nominal), extrapolated to {n:,} items",
        nltk_total,
        "(linear, from the subsample)",
    )

    sets = simulate(n, seed=1, multi_label=True)
    print(f"multi-label: {n:,} items × {len(CODERS)} coders, {len(sets):,} rows")
    masi_total = best(lambda: krippendorff_alpha(build_ratings(sets, multi_label=True)), repeat)
    line("llmcode: MASI α from rows", masi_total)
    small_sets = subsample(sets, args.nltk_items)
    nltk_masi_small = best(lambda: nltk_alpha(small_sets, multi_label=True), 1)
    nltk_masi = nltk_masi_small * n / args.nltk_items
    line(f"NLTK: MASI α, extrapolated from {args.nltk_items:,} items", nltk_masi, "(linear)")

    boot_codes = simulate(args.bootstrap_items, seed=2)
    print(f"bootstrap: {args.resamples:,} resamples of {args.bootstrap_items:,} items")
    boot = best(lambda: compute_agreement(boot_codes, bootstrap=args.resamples, seed=0), 1)
    line("llmcode: every coefficient with CIs", boot)
    boot_codes_too = best(
        lambda: compute_agreement(boot_codes, bootstrap=args.resamples, seed=0, by_code=True), 1
    )
    line("llmcode: every coefficient and per-code κ/α with CIs", boot_codes_too)

    print("ratios (higher = llmcode faster)")
    print(f"  α vs krippendorff, both on a prepared matrix: {theirs_alpha / ours_alpha:8.1f}×")
    print(
        f"  α vs krippendorff, both from long-format rows: {theirs_total / ours_alpha_total:7.1f}×"
    )
    print(f"  α vs NLTK (extrapolated), from rows:           {nltk_total / ours_alpha_total:7.1f}×")
    print(f"  MASI α vs NLTK (extrapolated), from rows:      {nltk_masi / masi_total:7.1f}×")
    print(f"  α values agree with krippendorff to {same:.1e}")
    print("targets")
    print(f"  every coefficient, {n:,} items < 2 s: {everything:.2f} s  {verdict(everything < 2)}")
    print(
        f"  every coefficient, {n:,} items < 0.5 s (issue 24): {everything:.2f} s = "
        f"{everything / 0.5:.2f}× the target  {verdict(everything < 0.5)}"
    )
    print(f"  α at least as fast as krippendorff: {verdict(ours_alpha_total <= theirs_total)}")
    print(f"  α ≥ 10× NLTK: {verdict(nltk_total / ours_alpha_total >= 10)}")
    print(
        f"  {args.resamples:,} resamples of {args.bootstrap_items:,} items < 10 s: "
        f"{boot:.2f} s  {verdict(boot < 10)}"
    )


if __name__ == "__main__":
    main()
