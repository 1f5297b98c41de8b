"""The README's "Python API" section runs as written (against our test server, so it is quick;
without an endpoint configured the embedded model answers it)."""

from __future__ import annotations

import re

import pytest

from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import ROOT


def _python_api_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_readme_python_api_section_runs(tmp_path, monkeypatch, capsys) -> None:
    for folder in ("taxonomy", "examples"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMCODE_RUNS_DIR", raising=False)
    with TestServer(ServerConfig()) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        exec(compile(_python_api_example(), "README.md", "exec"), {})
        paid = server.stats.paid_calls
    printed = capsys.readouterr().out
    assert "unknown setting 'temprature'" in printed
    run = RunStore(tmp_path / "runs").open("notebook")
    manifest = run.manifest()
    assert (
        manifest.status == "complete" and manifest.counts["ok"] + manifest.counts["unverified"] == 3
    )
    assert paid == manifest.usage["calls"] > 0
    assert manifest.extra["resumed"][-1]["applied"] == {"concurrency": "2"}


@pytest.mark.parametrize("name", ["code", "resume", "estimate", "SettingsError", "load_run_codes"])
def test_every_name_the_example_uses_is_public(name) -> None:
    import llmcode

    assert name in llmcode.__all__
