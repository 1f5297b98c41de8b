"""Secrets never reach disk or the terminal: redaction of errors, URLs and manifests."""

import json

import pytest

from llmcode.llm.redaction import redact
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA

KEY = "sk-test-SECRET-do-not-store-4242"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Incorrect API key provided: Bearer {KEY}", KEY),
        ("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678"),
        ("https://user:hunter2hunter2@llm.example/v1", "hunter2hunter2"),
        ("https://llm.example/v1?api_key=AAAABBBBCCCC&x=1", "AAAABBBBCCCC"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
    ],
)
def test_known_secret_shapes_are_redacted(text, secret):
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "query",
    [
        "code=AzureFunctionKey0123",
        "subscription-key=0123456789abcdef",
        "Ocp-Apim-Subscription-Key=0123456789abcdef",
        "X-Amz-Signature=0123456789abcdef",
        "client_secret=0123456789abcdef",
        "access-token=0123456789abcdef",
        "password=hunter2hunter2",
    ],
)
def test_every_query_value_named_like_a_credential_is_redacted(query):
    """Issue 25, defect 3: ``?code=`` (Azure Functions) and ``subscription-key`` were stored."""
    secret = query.split("=")[1]
    for url in (f"https://h.example/v1?{query}", f"https://h.example/v1?x=1&{query}&y=2"):
        assert redact(url) == url.replace(secret, "***")


def test_the_value_of_a_secret_environment_variable_is_redacted_wherever_it_is(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "plainlookingvalue99")
    assert redact("echo: plainlookingvalue99!") == "echo: ***!"


def test_redacted_json_is_still_json():
    text = json.dumps({"base_url": "https://u:secretsecret@h/v1?key=abcdefghij", "e": f"{KEY}"})
    assert "secretsecret" not in redact(text)
    json.loads(redact(text))


def test_ordinary_text_is_left_alone():
    text = 'The token embeddings are "slow" at https://example.org/docs?page=2 (key: value)'
    assert redact(text) == text


def code_args(base_url, runs, *extra):
    return [
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--base-url",
        base_url,
        "--runs-dir",
        runs,
        "--run-id",
        "r1",
        "--backend",
        "openai",
        *extra,
    ]


def assert_nowhere_on_disk(root, secret):
    for path in root.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="ignore"), path


def test_an_endpoint_echoing_the_key_in_its_error_does_not_put_it_on_disk(cli, tmp_path):
    with TestServer(ServerConfig(fault_script=["echo_auth"])) as server:
        result = cli(
            *code_args(server.base_url, tmp_path, "--concurrency", "1"), env={"OPENAI_API_KEY": KEY}
        )
    records = RunStore(tmp_path).open("r1").codings()
    errors = [r.error for r in records if r.status == "error"]
    assert errors and "Incorrect API key provided" in errors[0]  # the error is kept ...
    assert_nowhere_on_disk(tmp_path, KEY)  # ... without the key
    assert KEY not in result.output


def test_a_key_inside_base_url_is_not_stored_nor_shown(cli, tmp_path):
    secret = "hunter2hunter2hunter2"
    with TestServer(ServerConfig()) as server:
        url = server.base_url.replace("http://", f"http://user:{secret}@")
        result = cli(*code_args(url, tmp_path))
    assert result.exit_code == 0, result.output
    assert_nowhere_on_disk(tmp_path, secret)
    shown = cli("runs", "show", "r1", "--runs-dir", tmp_path)
    as_json = cli("runs", "show", "r1", "--json", "--runs-dir", tmp_path)
    assert shown.exit_code == 0 and as_json.exit_code == 0
    assert secret not in shown.output and secret not in as_json.output
    assert "user:***@" in as_json.output


def test_errors_printed_by_the_cli_are_redacted(cli, tmp_path, monkeypatch):
    secret = "sk-live-abcdefghijklmnop"
    result = cli(
        "code",
        "-t",
        tmp_path / f"missing-{secret}.yaml",
        "-i",
        DATA / "items.csv",
        "--runs-dir",
        tmp_path,
    )
    assert result.exit_code == 1
    assert secret not in result.output and "sk-***" in result.output
