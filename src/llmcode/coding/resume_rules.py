"""What a setting given again on resume does: it applies, it needs ``force``, or it is refused.

A resumed run keeps the settings that decide what its codes mean. Settings given again with
the run's own value change nothing. Of the others:

- the limits (``concurrency``, ``rpm``, ``tpm``, ``max_cost``, ``timeout``) apply to this
  invocation and are recorded in the manifest's resume history (``extra.resumed``);
  ``max_cost`` caps this invocation's spending only;
- the endpoint (``backend``, ``model``, ``more_models``, ``base_url``, ``model_path``), another
  taxonomy or items file, and prompt templates edited since the start need ``force``: the model
  and endpoint change applies (and becomes the run's), the run keeps its own snapshots, and the
  change is recorded;
- every other setting (samples, examples, prompts folder, evidence, level, ...) is refused,
  naming it: it would make the run's codes mean two things.

Messages name settings in backticks (`model`); the CLI shows each as its flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmcode.errors import ConfigError
from llmcode.store.config import GROUP_OF, RunConfig, unknown_setting
from llmcode.store.models import RunManifest, now
from llmcode.store.runs import Run

APPLIED = ("concurrency", "rpm", "tpm", "max_cost", "timeout")
FORCEABLE = ("backend", "model", "more_models", "base_url", "model_path")
SNAPSHOTS = ("taxonomy_path", "items_path")


def resume_changes(
    run: Run, manifest: RunManifest, changes: dict[str, Any], force: bool
) -> tuple[RunConfig, list[str]]:
    """The config this invocation codes with, and what to tell the user; refuses what cannot be.

    ``changes`` are the settings given now (flat names). ``run.config`` becomes the run's own
    config after the forced changes (written at finish); the returned config adds the limits
    that apply to this invocation only.
    """
    config = manifest.config
    current = config.flat()
    applied: dict[str, Any] = {}
    forced: dict[str, Any] = {}
    forced_notes: list[str] = []
    refused: list[str] = []
    for name, value in changes.items():
        if value is None:
            continue
        if name not in GROUP_OF:
            raise ConfigError(unknown_setting(name))
        if name in SNAPSHOTS:
            difference = _snapshot_difference(run, manifest, name, value)
            if difference:
                forced_notes.append(difference)
            continue
        if name == "max_cost":  # caps this invocation, whatever the run's was
            applied[name] = value
            continue
        if _same(value, current[name]):
            continue
        said = f"`{name}` {_shown(value)} (the run's: {_shown(current[name])})"
        if name in APPLIED:
            applied[name] = value
        elif name in FORCEABLE:
            forced[name] = value
            forced_notes.append(said)
        else:
            refused.append(said)
    if refused:
        raise ConfigError(
            f"run '{run.run_id}' was made with other settings, which a resume cannot change: "
            + "; ".join(refused),
            hint="resume without them, or start a new run with them (`like` the run)",
        )
    forced_notes += _template_changes(config, manifest)
    if forced_notes and not force:
        raise ConfigError(
            f"run '{run.run_id}' was made with other options: " + "; ".join(forced_notes),
            hint="resume without them to keep the run's, or `force` to resume with the new "
            "model or endpoint (the manifest notes the change)",
        )
    own = config.replace(**forced) if forced else config
    if forced_notes or applied:
        entry: dict[str, Any] = {"at": now().isoformat()}
        if forced_notes:
            entry["forced"] = forced_notes
        if applied:
            entry["applied"] = {k: _shown(v) for k, v in applied.items()}
        run.notes.setdefault("resumed", []).extend([*manifest.extra.get("resumed", []), entry])
    run.config = own
    notes = [f"`force`: {note}" for note in forced_notes]
    notes += [f"applies to this resume: `{k}` {_shown(v)}" for k, v in applied.items()]
    return own.replace(**{**applied, "max_cost": applied.get("max_cost")}), notes


def _same(given: Any, current: Any) -> bool:
    if isinstance(current, tuple):
        return tuple(given) == current
    if isinstance(given, str) and isinstance(current, str):
        return given.rstrip("/") == current.rstrip("/")
    return bool(given == current)


def _shown(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _snapshot_difference(run: Run, manifest: RunManifest, name: str, path: Any) -> str | None:
    """The phrase for a taxonomy or items file that differs from the run's snapshot."""
    from llmcode.items import file_sha256
    from llmcode.taxonomy.model import load_taxonomy

    if name == "taxonomy_path":
        if load_taxonomy(Path(path)).fingerprint() == manifest.taxonomy.get("fingerprint"):
            return None
        return f"`taxonomy_path` {path} differs from the run's taxonomy snapshot"
    if file_sha256(Path(path)) == manifest.items.get("sha256"):
        return None
    return f"`items_path` {path} differs from the run's items ({manifest.config.inputs.items_path})"


def _template_changes(config: RunConfig, manifest: RunManifest) -> list[str]:
    """Prompt templates whose text changed since the run started (by hash)."""
    from llmcode.coding.closed import prompts_for

    started = manifest.prompts.get("hashes") or {}
    now_hashes = prompts_for(config).describe().get("hashes") or {}
    return [
        f"prompt template {name} changed since the run started"
        for name, digest in sorted(now_hashes.items())
        if name in started and started[name] != digest
    ]
