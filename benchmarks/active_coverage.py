"""Coverage and width of the share CI for a uniform gold sample against one drawn by uncertainty.

    PYTHONPATH=src python benchmarks/active_coverage.py [--reps 500] [--items 2000] [--gold 150]

Each repetition draws a study: one code with share 30%; the LLM is right on an item with
probability equal to its confidence — "spread": uniform on [0.55, 1]; "mixed": 0.97 on 70% of
items, uniform on [0.5, 0.8] on the rest — so its errors sit where it is unsure and the naive
share is biased. At the same expected number of gold items, the gold is drawn
(a) uniformly, every item with probability n/N, or (b) by uncertainty,
`llmcode.quality.active_sample.inclusion_probabilities(1 − confidence, n, floor)`, each item on
its own (Poisson sampling), and the share is estimated by `llmcode.analysis.active
.active_mean_estimates` (PPI++ with 1/π weights; with equal π it is PPI with a Poisson draw).
Printed per design: coverage of the true share (in the population drawn) and mean CI width, and
the naive coverage. Expected: both about 95%, uncertainty sampling narrower. Not a test.
"""

from __future__ import annotations

import argparse

import numpy as np

from llmcode.analysis.active import active_mean_estimates
from llmcode.quality.active_sample import inclusion_probabilities


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--gold", type=int, default=150)
    parser.add_argument("--floor", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for scenario in ("spread", "mixed"):
        run_scenario(scenario, rng, args)


def confidences(scenario: str, rng: np.random.Generator, size: int) -> np.ndarray:
    if scenario == "spread":
        return rng.uniform(0.55, 1.0, size)
    easy = rng.random(size) < 0.7
    return np.where(easy, 0.97, rng.uniform(0.5, 0.8, size))


def run_scenario(scenario: str, rng: np.random.Generator, args: argparse.Namespace) -> None:
    n, big_n = args.gold, args.items
    stats = {design: {"hit": 0, "width": 0.0, "n": 0} for design in ("uniform", "uncertainty")}
    naive_hits = 0
    for _ in range(args.reps):
        y = (rng.random(big_n) < 0.3).astype(float)
        confidence = confidences(scenario, rng, big_n)
        yhat = np.where(rng.random(big_n) < confidence, y, 1 - y)
        truth = y.mean()
        designs = {
            "uniform": np.full(big_n, n / big_n),
            "uncertainty": inclusion_probabilities(1 - confidence, n, args.floor),
        }
        for design, pi in designs.items():
            labeled = rng.random(big_n) < pi
            est = active_mean_estimates(y[labeled], yhat[labeled], pi[labeled], yhat[~labeled])
            entry = stats[design]
            entry["hit"] += est.ppi.low <= truth <= est.ppi.high
            entry["width"] += est.ppi.width()
            entry["n"] += int(labeled.sum())
            if design == "uniform":
                naive_hits += est.naive.low <= truth <= est.naive.high
    print(
        f"{scenario}: {args.reps} reps, {big_n} items, {n} gold items expected, floor {args.floor}"
    )
    print("| design | coverage | mean CI width | mean gold items |")
    print("|---|--:|--:|--:|")
    for design, entry in stats.items():
        print(
            f"| {design} | {100 * entry['hit'] / args.reps:.1f}% | "
            f"{entry['width'] / args.reps:.4f} | {entry['n'] / args.reps:.1f} |"
        )
    print(f"naive coverage: {100 * naive_hits / args.reps:.1f}%")


if __name__ == "__main__":
    main()
