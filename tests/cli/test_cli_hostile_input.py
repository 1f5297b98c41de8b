"""Issue 25 (hostile input, round 3) from the shell, grouped per defect."""

from __future__ import annotations

import pytest

from llmcode.store.lock import LOCK
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA


def code_args(server, runs, *extra):
    return [
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
        "--no-cache",
        *extra,
    ]


@pytest.fixture
def coded_run(cli, tmp_path):
    """A complete run ``r1`` under ``tmp_path / 'runs'`` and the server it was coded against."""
    runs = tmp_path / "runs"
    with TestServer(ServerConfig()) as server:
        result = cli(*code_args(server, runs))
        assert result.exit_code == 0, result.output
        yield runs, server


# 2. A symlinked run.lock is written through.


@pytest.mark.parametrize("name", [LOCK, "codings.jsonl", "items.jsonl"])
def test_resume_refuses_a_run_folder_with_a_link_and_leaves_its_target_alone(
    cli, tmp_path, coded_run, name
):
    runs, server = coded_run
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = runs / "r1" / name
    target.unlink(missing_ok=True)
    target.symlink_to(victim)
    result = cli(*code_args(server, runs, "--resume", "r1"))
    assert result.exit_code == 1
    assert "symbolic link" in result.output
    assert victim.read_text() == "precious\n"


# 3. Secrets in other query parameters.

QUERY_SECRETS = ("AZFUNCSECRET0123456789", "SUBKEYSECRET999")


def test_keys_in_any_credential_query_parameter_never_reach_disk_or_the_terminal(cli, tmp_path):
    runs = tmp_path / "runs"
    with TestServer(ServerConfig()) as server:
        url = f"{server.base_url}?code={QUERY_SECRETS[0]}&subscription-key={QUERY_SECRETS[1]}"
        args = code_args(server, runs)
        args[args.index(server.base_url)] = url
        coded = cli(*args)
    shown = cli("runs", "show", "r1", "--runs-dir", runs, "--json")
    assert coded.exit_code == 1 and "code=***" in coded.output  # the path is wrong: errors
    for output in (coded.output, shown.output):
        assert not any(secret in output for secret in QUERY_SECRETS)
    for path in runs.rglob("*"):
        if path.is_file():
            assert not any(secret in path.read_text() for secret in QUERY_SECRETS), path


def test_batch_collect_redacts_what_the_provider_says(cli, tmp_path):
    from llmcode.testserver import default_responder
    from llmcode.testserver.responder import item_blocks

    secret = "https://vault.example/v1?code=PROVIDERECHO0123456"

    def fail_i3(body):
        if item_blocks(body)[-1].item_id == "i3":
            raise RuntimeError(f"upstream {secret} refused")
        return default_responder(body)

    offline = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "LLMCODE_MODEL": None}
    with TestServer(ServerConfig(responder=fail_i3)) as server:
        common = ["--runs-dir", tmp_path]
        prepare = ["-t", DATA / "tiny.yaml", "-i", DATA / "items.csv", "--run-id", "b1"]
        cli("batch", "prepare", *prepare, *common, "--base-url", server.base_url, env=offline)
        cli("batch", "submit", "b1", *common, env=offline)
        result = cli("batch", "collect", "b1", *common, env=offline)
    assert result.exit_code == 0, result.output
    assert "1 failed request(s)" in result.output and "code=***" in result.output
    assert "PROVIDERECHO0123456" not in result.output
    for path in (tmp_path / "b1").rglob("*"):
        if path.is_file():
            assert "PROVIDERECHO0123456" not in path.read_text(), path


# 4. --base-url '' meant api.openai.com.


@pytest.mark.parametrize(
    "command",
    [
        ["code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv"],
        ["open-code", "-i", DATA / "items.csv"],
        ["batch", "prepare", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv"],
        ["batch", "submit", "r1"],
    ],
)
def test_an_empty_base_url_is_a_usage_error(cli, tmp_path, command):
    result = cli(*command, "--base-url", "", "--runs-dir", tmp_path, env={"OPENAI_API_KEY": "k"})
    assert result.exit_code == 2, result.output
    assert "--base-url" in result.output and "empty" in result.output
    assert not list(tmp_path.iterdir())


# 5 and 18. Terminal escapes and rich markup in data are printed as text.

MARKUP = "[/x] [bold]b[/bold]"
ESCAPES = "\x1b]0;owned\x07\x1b[2J"


def hostile_taxonomy(tmp_path):
    text = (DATA / "tiny.yaml").read_text()
    text = text.replace("name: tiny", f'name: "tiny {MARKUP}"').replace(
        "name: Model Usage", 'name: "Model [/x] Usage \\e]0;owned\\a\\e[2J"'
    )
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", [["taxonomy", "show", "-d"], ["taxonomy", "check"]])
def test_taxonomy_views_print_markup_and_escapes_in_names_as_text(cli, tmp_path, command):
    result = cli(*command, hostile_taxonomy(tmp_path))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "tiny [/x] [bold]b[/bold]" in result.output


def test_a_run_with_markup_in_its_model_and_taxonomy_is_coded_listed_and_shown(cli, tmp_path):
    runs = tmp_path / "runs"
    items = tmp_path / "items.csv"
    items.write_text(
        "item_id,text\n"
        f'"[/x]{ESCAPES}",The model crashes with CUDA out of memory\n'
        '"[/y]",\n'  # an empty text: skipped, and its id printed
    )
    with TestServer(ServerConfig()) as server:
        coded = cli(
            "code",
            "-t",
            hostile_taxonomy(tmp_path),
            "-i",
            items,
            "--base-url",
            server.base_url,
            "--runs-dir",
            runs,
            "--run-id",
            "r1",
            "--model",
            f"[/m]{ESCAPES}",
            "--no-cache",
        )
    listed = cli("runs", "list", "--runs-dir", runs)
    shown = cli("runs", "show", "r1", "--runs-dir", runs)
    for result in (coded, listed, shown):
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
    assert "skipped [/y]" in coded.output
    assert "[/m]" in listed.output
    assert "[/m]" in shown.output and f"tiny {MARKUP}" in shown.output


def test_prompt_show_shows_escape_sequences_in_items_as_escapes(cli, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text(f"item_id,text\ni1,before{ESCAPES}after\n")
    result = cli("prompt", "show", "-t", DATA / "tiny.yaml", "--items", items)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "before\\x1b]0;owned\\x07\\x1b[2Jafter" in result.output


# 6. A full disk made a run unresumable.


def test_resume_sets_torn_records_aside_counts_them_and_asks_their_items_again(
    cli, tmp_path, coded_run
):
    runs, server = coded_run
    codings = runs / "r1" / "codings.jsonl"
    lines = codings.read_bytes().splitlines()
    assert len(lines) == 4
    half = lines[1][: len(lines[1]) // 2]  # the disk filled mid-record ...
    codings.write_bytes(
        lines[0]
        + b"\n"
        + half
        + lines[2]
        + b"\n"  # ... and the next record was appended to it
        + lines[3][:-7]  # the last record cut by a kill
    )
    resumed = cli(*code_args(server, runs, "--resume", "r1"))
    assert resumed.exit_code == 0, resumed.output
    from llmcode.store.runs import RunStore

    run = RunStore(runs).open("r1")
    manifest = run.manifest()
    assert manifest.status == "complete" and manifest.counts.get("ok") == 4
    assert manifest.extra["torn_records"] == 2
    assert (runs / "r1" / "codings.jsonl.torn").read_bytes().splitlines() == [half, lines[3][:-7]]
    assert sorted(run.latest_codings()) == ["i1", "i2", "i3", "i4"]


# 22. The response cache key ignored the base URL.


def test_another_endpoint_serving_the_same_model_name_is_asked_not_answered_from_the_cache(
    cli, tmp_path
):
    runs = tmp_path / "runs"
    paid = []
    for run_id in ("first", "second"):
        with TestServer(ServerConfig()) as server:  # a new server on a new port each time
            args = code_args(server, runs, "--model", "same-name")
            args[args.index("r1")] = run_id
            args.remove("--no-cache")
            assert cli(*args).exit_code == 0
            paid.append(server.stats.paid_calls)
    assert paid == [4, 4]


# 19. Out-of-range values were tracebacks.


@pytest.mark.parametrize(
    ("option", "value"),
    [("--rpm", "-5"), ("--rpm", "0"), ("--tpm", "-1"), ("--max-cost", "-1"), ("--max-cost", "nan")],
)
def test_an_out_of_range_rate_or_budget_is_a_usage_error_naming_the_flag(
    cli, tmp_path, option, value
):
    result = cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--runs-dir",
        tmp_path / "runs",
        option,
        value,
    )
    assert result.exit_code == 2, result.output
    assert f"invalid value for {option}" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["sample", DATA / "items.csv", "-n", "2", "-o", "OUT"],
        ["agree", DATA / "items.csv"],
        ["eval", "r1"],
        ["analyze", "r1"],
    ],
)
def test_a_negative_seed_is_a_usage_error(cli, tmp_path, command):
    args = [tmp_path / "s.csv" if a == "OUT" else a for a in command]
    result = cli(*args, "--seed", "-1")
    assert result.exit_code == 2 and "--seed" in result.output


def test_a_runtime_template_error_in_prompt_show_is_one_line_naming_file_and_line(cli, tmp_path):
    (tmp_path / "closed_coding.user.md").write_text("Item:\n{{ text }}\n{{ 1 / 0 }}\n")
    result = cli("prompt", "show", "-t", DATA / "tiny.yaml", "--prompts", tmp_path)
    assert result.exit_code == 1
    assert "closed_coding.user.md:3: template failed" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# 21. runs list / runs show.


def test_runs_list_and_show_tell_a_dead_run_a_copy_and_a_folder_without_manifest(cli, coded_run):
    import json
    import shutil

    runs, _ = coded_run
    manifest = runs / "r1" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["status"] = "running"  # as a killed process leaves it
    manifest.write_text(json.dumps(data))
    shutil.copytree(runs / "r1", runs / "r1-copy")
    (runs / "half").mkdir()
    (runs / "half" / "codings.jsonl").write_text("")
    listed = cli("runs", "list", "--runs-dir", runs)
    shown = cli("runs", "show", "r1", "--runs-dir", runs)
    assert listed.exit_code == 0 and shown.exit_code == 0
    out = listed.stdout.splitlines()
    # each run id on a line of its own (counts beside it), its status on the line under it
    lines = {
        out[n].split()[0]: out[n + 1]
        for n in range(len(out) - 1)
        if out[n].split()[:1] in (["half"], ["r1"], ["r1-copy"])
    }
    assert set(lines) == {"half", "r1", "r1-copy"}
    assert "· interrupted ·" in lines["r1"] and "running" not in lines["r1"]
    assert "· interrupted ·" in lines["r1-copy"] and "unreadable" in lines["half"]
    said = " ".join(listed.output.split())  # messages may wrap
    assert "no manifest.json" in said
    assert "manifest names run 'r1' (a copied folder?)" in said
    assert "interrupted" in shown.stdout and "running" not in shown.stdout


# 12. llmcode sample.


def test_sample_refuses_to_write_over_its_own_items_file(cli, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text((DATA / "items.csv").read_text())
    before = items.read_bytes()
    result = cli("sample", items, "-n", "2", "-o", items)
    assert result.exit_code == 1 and "is the items file the sample is drawn from" in result.output
    assert items.read_bytes() == before


def test_sample_refuses_duplicate_item_ids(cli, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("item_id,text\na,one\nb,two\na,three\n")
    result = cli("sample", items, "-n", "2", "-o", tmp_path / "gold.csv")
    assert result.exit_code == 1 and "duplicate item_id: a" in result.output
    assert not (tmp_path / "gold.csv").exists()


def test_drawing_a_sample_again_keeps_the_looks_at_its_test_split(cli, tmp_path):
    import json

    from llmcode.quality.gold import record_test_look, sidecar_path

    gold = tmp_path / "gold.csv"
    assert cli("sample", DATA / "items.csv", "-n", "2", "-o", gold).exit_code == 0
    record_test_look(gold, ["run-a"])
    assert cli("sample", DATA / "items.csv", "-n", "2", "--seed", "3", "-o", gold).exit_code == 0
    sidecar = json.loads(sidecar_path(gold).read_text())
    assert [look["runs"] for look in sidecar["test_evaluations"]] == [["run-a"]]
    assert sidecar["seed"] == 3 and [d["seed"] for d in sidecar["redrawn"]] == [0]
    assert [look["runs"] for look in record_test_look(gold, ["run-b"])] == [["run-a"]]


# 20. Resume checked only the snapshot's item count; foreign records were counted.


def test_resume_refuses_an_item_snapshot_whose_texts_were_edited(cli, coded_run):
    runs, server = coded_run
    snapshot = runs / "r1" / "items.jsonl"
    snapshot.write_text(snapshot.read_text().replace("CUDA", "cuda"))  # same count, new text
    result = cli(*code_args(server, runs, "--resume", "r1"))
    assert result.exit_code == 1
    assert "item snapshot was changed since the run started" in " ".join(result.output.split())


def test_a_record_for_another_item_or_a_code_outside_the_taxonomy_is_not_counted_as_coded(
    cli, coded_run
):
    import json

    runs, server = coded_run
    codings = runs / "r1" / "codings.jsonl"
    records = [json.loads(line) for line in codings.read_text().splitlines()]
    stranger = {**records[0], "item_id": "not-in-the-run"}
    invented = {**records[1], "codes": [{**records[1]["codes"][0], "code": "invented"}]}
    with codings.open("a") as handle:
        handle.write(json.dumps(stranger) + "\n" + json.dumps(invented) + "\n")
    assert cli(*code_args(server, runs, "--resume", "r1")).exit_code == 0
    from llmcode.store.runs import RunStore, load_run_codes

    manifest = RunStore(runs).open("r1").manifest()
    assert sum(manifest.counts.values()) == 4
    assert manifest.counts.get("ok") == 3 and manifest.counts.get("invalid") == 1
    exported = load_run_codes(runs / "r1")
    assert set(exported.item_id) <= {"i1", "i2", "i3", "i4"}
    assert "invented" not in set(exported.code)


def test_agree_prints_coder_names_with_markup_and_escapes_as_text(cli, tmp_path):
    codes = tmp_path / "codes.csv"
    rows = [("i1", "usage", "usage"), ("i2", "resources", "usage"), ("i3", "usage", "usage")]
    codes.write_text(
        "item_id,coder,code\n"
        + "".join(f"{i},[/x]\x1b[31m,{a}\n{i},[bold]b,{b}\n" for i, a, b in rows)
    )
    result = cli("agree", codes, "--by-code")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    said = " ".join(result.output.split())
    assert "Agreement · 2 coders ([/x][31m, [bold]b)" in said
    assert "[bold]Agreement" not in said
