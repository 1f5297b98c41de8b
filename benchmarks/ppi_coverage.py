"""Coverage and width of the naive, classical and PPI share CIs of `llmcode analyze --gold`.

    PYTHONPATH=src python benchmarks/ppi_coverage.py [--reps 200] [--items 2000] [--gold 200]

Each repetition draws a study from a known truth: 5 codes with shares 40/25/15/12/8%, one code
per item. The LLM gives the true code with probability ACCURACY (60, 80, 95%); otherwise it
picks one of the other codes uniformly — so its errors flatten the distribution and the naive
shares are biased. A uniform random sample of --gold items gets the true codes (the gold).
For every code the three 95% CIs of `llmcode.analysis.ppi.mean_estimates` are checked against
the true share. Printed: coverage (share of the reps × codes whose CI holds the truth) and
mean CI width, per LLM accuracy. Expected: naive below 95%, classical and PPI about 95%, PPI
narrower than classical when the LLM is good. Not a test (it takes a while and is random).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from llmcode.analysis.ppi import mean_estimates

SHARES = np.array([0.40, 0.25, 0.15, 0.12, 0.08])
ACCURACIES = (0.60, 0.80, 0.95)
METHODS = ("naive", "classical", "ppi")


def study(rng: np.random.Generator, accuracy: float, n_items: int) -> tuple[np.ndarray, ...]:
    """True codes and the LLM's codes for ``n_items`` items."""
    k = len(SHARES)
    truth = rng.choice(k, size=n_items, p=SHARES)
    other = (truth + rng.integers(1, k, size=n_items)) % k  # a uniform wrong code
    llm = np.where(rng.random(n_items) < accuracy, truth, other)
    return truth, llm


def simulate(accuracy: float, reps: int, n_items: int, n_gold: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(METHODS, 0)
    widths: dict[str, list[float]] = {m: [] for m in METHODS}
    effective: list[float] = []
    for _ in range(reps):
        truth, llm = study(rng, accuracy, n_items)
        gold = np.zeros(n_items, bool)
        gold[rng.choice(n_items, size=n_gold, replace=False)] = True
        for code, share in enumerate(SHARES):
            y, yhat = (truth == code).astype(float), (llm == code).astype(float)
            est = mean_estimates(y[gold], yhat[gold], yhat[~gold], bounds=(0.0, 1.0))
            for method in METHODS:
                ci = getattr(est, method)
                hits[method] += ci.low <= share <= ci.high
                widths[method].append(ci.width())
            if est.effective_n is not None:
                effective.append(est.effective_n)
    total = reps * len(SHARES)
    return {
        "coverage": {m: hits[m] / total for m in METHODS},
        "width": {m: float(np.mean(widths[m])) for m in METHODS},
        "effective_n": float(np.median(effective)) if effective else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--gold", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"{args.reps} repetitions × {len(SHARES)} codes; {args.items} items, "
        f"{args.gold} gold; true shares {', '.join(f'{s:.0%}' for s in SHARES)}"
    )
    print(f"{'LLM accuracy':>12}  {'CI':<10}{'coverage':>9}{'mean width':>12}")
    start = time.perf_counter()
    for accuracy in ACCURACIES:
        result = simulate(accuracy, args.reps, args.items, args.gold, args.seed)
        for method in METHODS:
            print(
                f"{accuracy:>12.0%}  {method:<10}{result['coverage'][method]:>9.1%}"
                f"{result['width'][method]:>12.4f}"
            )
        ratio = result["width"]["ppi"] / result["width"]["classical"]
        print(
            f"{'':>12}  PPI/classical width {ratio:.2f}; median effective n "
            f"{result['effective_n']:.0f} (of {args.gold} gold)"
        )
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
