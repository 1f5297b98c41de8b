"""`llmcode code` with retrieved examples, prompt overrides and a second look, over real HTTP."""

from __future__ import annotations

import json

from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA

KEY = {"OPENAI_API_KEY": "sk-test"}


def codes_file(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text(
        "item_id,coder,code\ni1,ana,usage\ni2,ana,resources\ni3,ana,performance\n"
        "i4,ana,usage\ni1,ben,performance\n",
        encoding="utf-8",
    )
    return path


def code(cli, server, runs, *extra):
    return cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--base-url",
        server.base_url,
        "--runs-dir",
        runs,
        "--run-id",
        "r1",
        *extra,
        env=KEY,
    )


def test_each_record_lists_the_examples_it_was_shown_never_itself(cli, tmp_path) -> None:
    codes = codes_file(tmp_path)
    with TestServer(ServerConfig()) as server:
        result = code(
            cli,
            server,
            tmp_path / "runs",
            "--examples",
            codes,
            "--examples-coder",
            "ana",
            "--shots",
            "2",
        )
    assert result.exit_code == 0, result.output
    assert "2 example(s) per item" in result.output
    run = RunStore(tmp_path / "runs").open("r1")
    records = run.latest_codings()
    for item_id, record in records.items():
        assert len(record.examples) == 2 and item_id not in record.examples
    manifest = run.manifest()
    assert manifest.config.guidance.examples == str(codes) and manifest.config.guidance.shots == 2
    assert manifest.extra["examples"]["n_items"] == 4
    assert len(manifest.extra["examples"]["sha256"]) == 16


def test_a_test_split_item_is_never_shown(cli, tmp_path) -> None:
    splits = tmp_path / "splits.csv"
    splits.write_text("item_id,split\ni1,test\ni2,dev\n", encoding="utf-8")
    with TestServer(ServerConfig()) as server:
        result = code(
            cli,
            server,
            tmp_path / "runs",
            "--examples",
            codes_file(tmp_path),
            "--examples-coder",
            "ana",
            "--splits",
            splits,
        )
    assert result.exit_code == 0, result.output
    records = RunStore(tmp_path / "runs").open("r1").latest_codings().values()
    assert all("i1" not in r.examples for r in records)
    assert {len(r.examples) for r in records} == {2, 3}  # 3 coded items left, minus itself


def test_verify_records_a_check_per_code_and_counts_its_calls(cli, tmp_path) -> None:
    with TestServer(ServerConfig()) as server:
        result = code(cli, server, tmp_path / "runs", "--verify", "drop")
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path / "runs").open("r1")
    for record in run.latest_codings().values():
        assert [c.code for c in record.checks] and record.checks[0].verdict in ("keep", "reject")
        assert record.attempts >= 2
    manifest = run.manifest()
    assert manifest.config.guidance.verify == "drop"
    assert "verify.system.md" in manifest.prompts["hashes"]


def test_verify_takes_only_drop_as_its_mode(cli, tmp_path) -> None:
    result = cli("code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv", "--verify", "maybe")
    assert result.exit_code == 2
    assert "'maybe' is not one of 'flag', 'drop'" in result.output


def test_dry_run_counts_the_examples_and_the_checks(cli, tmp_path) -> None:
    base = (
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--dry-run",
        "--backend",
        "openai",
        "--model",
        "gpt-4o-mini",
    )
    plain = cli(*base)
    more = cli(*base, "--examples", codes_file(tmp_path), "--examples-coder", "ana", "--verify")
    assert plain.exit_code == 0 and more.exit_code == 0, more.output
    assert "verify_requests" in more.output and "verify_requests" not in plain.output
    plain_json = json.loads(cli(*base, "--json").stdout)
    more_json = json.loads(
        cli(
            *base, "--json", "--examples", codes_file(tmp_path), "--examples-coder", "ana",
            "--verify",
        ).stdout
    )  # fmt: skip
    assert more_json["prompt_tokens"] > plain_json["prompt_tokens"]
    assert more_json["requests"] == plain_json["requests"] + 4
    assert more_json["verify_requests"] == 4


def test_a_prompts_dir_replaces_a_template_and_the_manifest_says_so(cli, tmp_path) -> None:
    custom = tmp_path / "prompts"
    custom.mkdir()
    (custom / "closed_coding.user.md").write_text(
        'Please code it.\n<item id="{{ item_id }}">\n{{ text }}\n</item>', encoding="utf-8"
    )
    with TestServer(ServerConfig()) as server:
        result = code(cli, server, tmp_path / "runs", "--prompts", custom)
    assert result.exit_code == 0, result.output
    manifest = RunStore(tmp_path / "runs").open("r1").manifest()
    assert manifest.prompts["overrides"] == {
        "closed_coding.user.md": str(custom / "closed_coding.user.md")
    }
    assert set(manifest.prompts["hashes"]) >= {"closed_coding.system.md", "closed_coding.user.md"}


def test_examples_options_need_examples(cli, tmp_path) -> None:
    result = cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--dry-run",
        "--examples-coder",
        "ana",
    )
    assert result.exit_code == 1 and "need --examples" in result.output
