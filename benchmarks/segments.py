"""Coding documents in passages: tokens and seconds per 10,000 characters, and segment F1.

    PYTHONPATH=src python benchmarks/segments.py                      # the test server
    flock /tmp/embedded.lock env PYTHONPATH=src python benchmarks/segments.py --backend local \
        --documents 1                                                  # the embedded model

Codes the interviews of ``examples/interviews`` (``--unit segment --level leaves``) with the
test server (it quotes the first three sentences of each paragraph and picks a code by hash: a
floor, not a model) or the embedded model (SmolLM2-135M in its 4,096-token context; slow on a
shared CPU, so ``--documents`` limits it), then a 40,000-character document built from them.
Printed, labelled with the backend: windows, requests, prompt and completion tokens and seconds
per 10,000 characters of document, tokens per window, and segment precision/recall/F1 at
IoU >= 0.5 against ana's passages (``evaluate_segment_runs``), with ben's F1 against ana on the
same documents as the human ceiling. Not a test.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import llmcode
from llmcode.errors import LlmcodeError
from llmcode.quality.segment_eval import evaluate_segment_runs, evaluate_segments
from llmcode.testserver import ServerConfig, TestServer

ROOT = Path(__file__).resolve().parents[1]
INTERVIEWS = ROOT / "examples" / "interviews"
TAXONOMY = INTERVIEWS / "ptm-interviews.yaml"
HUMANS = INTERVIEWS / "codes.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("testserver", "local"), default="testserver")
    parser.add_argument("--documents", type=int, default=5, help="interviews to code (1-5)")
    parser.add_argument("--context-tokens", type=int, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="segments-bench-"))
    documents = work / "transcripts"
    documents.mkdir()
    for path in sorted((INTERVIEWS / "transcripts").glob("*.txt"))[: args.documents]:
        (documents / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    long = work / "long" / "long.txt"
    long.parent.mkdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted((INTERVIEWS / "transcripts").iterdir())]
    long.write_text(("\n\n".join(texts) * 2)[:40_000], encoding="utf-8")
    label = "test server" if args.backend == "testserver" else "embedded SmolLM2-135M"
    print(f"# Segment coding benchmark: {label}\n")
    print(
        "| documents | characters | requests (windows + re-asks) | prompt tok / 10k chars | "
        "completion tok / 10k chars | s / 10k chars | tokens / window |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    run = code(args, documents, work / "runs", "interviews")
    report(run, "interviews")
    if args.backend == "testserver":
        report(code(args, long, work / "runs", "long"), "40,000-character document")
    print()
    gold = work / "gold.csv"  # the human passages of the documents coded
    humans = llmcode.load_codes(HUMANS)
    ids = {p.stem for p in documents.iterdir()}
    humans[humans["item_id"].isin(ids)].to_csv(gold, index=False)
    try:
        evaluation = evaluate_segment_runs(
            [run.path], gold, coders=["ana"], items=documents, bootstrap=1000, seed=0
        )
    except LlmcodeError as exc:  # e.g. no document coded: say so
        statuses = [r.status for r in run.latest_codings().values()]
        print(f"No segment F1 ({exc.message}); statuses: {statuses}")
        return
    score = next(iter(evaluation.runs.values()))
    print(
        f"Segment F1 against ana (IoU >= 0.5, {evaluation.n_documents} documents, {label}): "
        f"precision {fmt(score.precision)}, recall {fmt(score.recall)}, F1 {fmt(score.f1)} "
        f"(95% CI {interval(score.ci95.get('f1'))}); ana's passages {score.support}, "
        f"the run's {score.n_predicted}, matched {score.matched}"
    )
    ben = humans[humans["coder"].isin(["ana", "ben"])]
    texts_by_id = {p.stem: p.read_text(encoding="utf-8") for p in sorted(documents.iterdir())}
    ben = ben[ben["item_id"].isin(texts_by_id)]
    human = evaluate_segments(ben, texts_by_id, gold=["ana"], systems=["ben"], bootstrap=0)
    print(f"Human ceiling on the same documents: ben against ana, F1 {fmt(human.runs['ben'].f1)}")


def code(args: argparse.Namespace, items: Path, runs: Path, run_id: str) -> llmcode.Run:
    settings: dict = {"unit": "segment", "level": "leaves", "runs_dir": runs, "cache": False}
    if args.context_tokens:
        settings["context_tokens"] = args.context_tokens
    started = time.perf_counter()
    if args.backend == "local":
        run = llmcode.code(TAXONOMY, items, backend="local", run_id=run_id, **settings)
    else:
        os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
        with TestServer(ServerConfig()) as server:
            run = llmcode.code(
                TAXONOMY, items, base_url=server.base_url, model="test-model", run_id=run_id,
                **settings,
            )  # fmt: skip
    run.seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    return run


def report(run: llmcode.Run, name: str) -> None:
    usage = run.manifest().usage
    chars = sum(len(item.text) for item in run.items())
    per = 10_000 / chars
    tokens = usage["prompt_tokens"] + usage["completion_tokens"]
    print(
        f"| {name} | {chars:,} | {int(usage['calls'])} | "
        f"{usage['prompt_tokens'] * per:,.0f} | {usage['completion_tokens'] * per:,.0f} | "
        f"{run.seconds * per:.1f} | {tokens / max(1, usage['calls']):,.0f} |"  # type: ignore[attr-defined]
    )


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def interval(value: tuple[float, float] | None) -> str:
    return "–" if value is None else f"{value[0]:.3f}–{value[1]:.3f}"


if __name__ == "__main__":
    main()
