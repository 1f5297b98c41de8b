"""What `llmcode code` says about a run around the coding itself: the opening line, the dry-run
estimate, the closing summary (codes, status counts, calls, tokens, cost) and the command that
resumes the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from llmcode.cli.app import print_next
from llmcode.cli.run_lines import disputed_checks
from llmcode.cli.terminal import Console
from llmcode.numbers import UNDEFINED

if TYPE_CHECKING:
    from llmcode.coding.job import CodingJob
    from llmcode.store.models import RunManifest
    from llmcode.store.runs import Run


def announce_run(console: Console, job: CodingJob) -> None:
    """The run's first lines: skipped items, then what is coded with what."""
    assert job.run is not None and job.item_set is not None
    for skipped_id, reason in job.item_set.skipped:
        console.print(f"[yellow]skipped[/] {escape(skipped_id)}: {escape(reason)}")
    tax, llm, coder, guidance = job.taxonomy, job.coder.backend, job.coder, job.config.guidance
    line = (
        f"{len(job.todo)} item(s), {tax.name} {tax.version}, "
        f"{llm.describe()['backend']} model {llm.model}"
        + (
            f", {guidance.shots} example(s) per item from {coder.examples.source} "
            f"({len(coder.examples.shots)} coded items)"
            if coder.examples is not None
            else ""
        )
        + (f", second look ({guidance.verify})" if guidance.verify != "off" else "")
    )
    console.print(f"run [bold]{escape(job.run.run_id)}[/]: {escape(line)}")


def print_estimate(console: Console, job: CodingJob) -> None:
    """The dry run's table: items, requests, tokens, the price (dated) and the cost three ways:
    live, through the Batch API, and live with the codebook prefix cached; nothing is sent."""
    from llmcode.cli.progress import StepProgress
    from llmcode.cli.run_lines import settings_line
    from llmcode.llm.backends import default_model

    with StepProgress(console, "choosing examples") as progress:
        estimate = job.estimate(progress.update)
    model = job.config.endpoint.model or default_model(job.config.endpoint.backend)
    table = Table(title=f"dry run: {model}, nothing sent", title_justify="left", show_header=False)
    price, values = estimate.price, estimate.as_dict()
    if price is not None:
        cached = UNDEFINED if price.cached_input is None else f"{price.cached_input:g}"
        values["price_per_million"] = (
            f"input {price.input:g}, cached input {cached}, output {price.output:g}"
        )
    for key, value in values.items():
        if value is None:
            shown = UNDEFINED
        elif key.endswith("cost_usd"):
            shown = f"${value:,.2f}"
        else:
            shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        table.add_row(key, escape(shown))
    console.print(table)
    if price is not None:
        for label, cost in (
            ("live: every prompt token at the input price", estimate.cost),
            (f"through the provider's Batch API ({price.batch_discount:.0%} off)",
             estimate.batch_cost),
            ("live, the cached prefix at the cached-input price", estimate.cached_cost),
        ):  # fmt: skip
            console.print(f"  ${cost or 0:,.2f}  {escape(label)}", soft_wrap=True)
        console.print(
            f"prices of {escape(str(estimate.price_date))}, source: "
            f"{escape(str(estimate.price_source))} (replace with --prices FILE)",
            soft_wrap=True,
        )
    console.print(f"settings: {escape(settings_line(job.config))}", soft_wrap=True)
    if estimate.top_down_prompt_tokens is not None:
        share = estimate.top_down_prompt_tokens / max(1, estimate.prompt_tokens)
        console.print(
            f"coded top-down (--hierarchy top-down: categories first, then their codes) it "
            f"would send {estimate.top_down_prompt_tokens:,} prompt tokens, {share:.0%} of these",
            soft_wrap=True,
        )
    if estimate.cost is None and job.config.endpoint.backend == "openai":
        console.print(f"[yellow]no price known for '{escape(model)}'[/]: pass --prices prices.yaml")


def resume_command(run: Run, runs_dir: Path | None) -> str:
    """The exact command that continues ``run``."""
    where = f" --runs-dir {runs_dir}" if runs_dir is not None else ""
    return f"llmcode code --resume {run.run_id}{where}"


def print_summary(console: Console, run: Run, manifest: RunManifest, resume: str) -> None:
    """The codes the run assigned (items, share), its usage, and what to do next."""
    latest = run.latest_codes()  # one pass over the latest records (a million in flat memory)
    codes, coded, checks = latest.codes, latest.coded, latest.checks
    table = Table(title=f"codes in {run.run_id}", title_justify="left")
    table.add_column("code")
    table.add_column("items", justify="right")
    table.add_column("share", justify="right")
    total = max(1, coded)
    for code_id, n in codes.most_common():
        table.add_row(escape(code_id), str(n), f"{n / total:.0%}")
    console.print(table)
    counts = manifest.counts
    usage = manifest.usage
    items = max(1, usage.get("items", 0))
    console.print(
        "status: "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        + f" | calls {usage.get('calls', 0)} ({usage.get('cached_calls', 0)} cached)"
        + f" | tokens/item {(usage.get('prompt_tokens', 0) + usage.get('completion_tokens', 0)) / items:.0f}"
        + (f" | abandoned {int(usage['abandoned'])}" if usage.get("abandoned") else "")
        + (
            f" | disputed {disputed_checks(checks)}"
            if manifest.config.guidance.verify != "off"
            else ""
        )
        + (f" | cost ${usage['cost_usd']:.4f}" if "cost_usd" in usage else "")
    )
    if manifest.status == "failed":
        console.print(
            f"[red]failed[/]: every item is an error (see llmcode runs show {run.run_id}); "
            f"fix the cause, then {resume}",
            soft_wrap=True,
        )
    elif manifest.status != "complete":
        console.print(f"[yellow]interrupted[/]: resume with\n  {resume}", soft_wrap=True)
    else:
        print_next(
            console, f"llmcode export {run.run_id} --format csv", f"llmcode runs show {run.run_id}"
        )
