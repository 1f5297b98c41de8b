"""Start-up benchmark: `llmcode --help`, `llmcode code --help` and `llmcode --version` against
`python -c pass`, wall and CPU time, median of N runs in one go (target: `--help` < 0.3 s wall on
an idle machine). Prints the load average, since a busy machine stretches wall time.

    python benchmarks/startup.py --runs 10
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "python -c pass": ["-c", "pass"],
    "llmcode --help": ["-m", "llmcode", "--help"],
    "llmcode code --help": ["-m", "llmcode", "code", "--help"],
    "llmcode --version": ["-m", "llmcode", "--version"],
}


def measure(args: list[str], runs: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; median of {args.runs}")
    results = {name: measure(argv, args.runs) for name, argv in CASES.items()}
    base_wall, _ = results["python -c pass"]
    for name, (wall, cpu) in results.items():
        print(
            f"{name:22} wall {wall:.3f} s  cpu {cpu:.3f} s  "
            f"(+{wall - base_wall:.3f} s wall over python -c pass, {wall / base_wall:.1f}x)"
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
