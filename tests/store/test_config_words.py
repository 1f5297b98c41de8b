"""A run's settings in words (`settings_text`): what `runs show`, `runs list`, `eval`, the dry
run and the report say to tell runs apart (issue 23 #6)."""

from __future__ import annotations

import json

from llmcode.store.config import RunConfig, settings_text


def config(**settings: object) -> RunConfig:
    return RunConfig(taxonomy_path="t.yaml", items_path="i.csv", **settings)


def test_the_defaults_are_said_as_defaults_with_the_fingerprint() -> None:
    plain = config()
    assert settings_text(plain.changed(), plain.fingerprint()) == (
        f"defaults (fingerprint {plain.fingerprint()})"
    )


def test_examples_bring_their_shots_even_at_the_default() -> None:
    with_examples = config(examples="codes.csv", verify="flag", only="gold.csv")
    text = settings_text(with_examples.changed(), None)
    assert text == "only gold.csv, examples codes.csv, verify flag, shots 4"
    assert config().fingerprint() != with_examples.fingerprint()


def test_settings_read_back_from_json_read_the_same() -> None:
    run = config(model="a", more_models=("b", "c"), samples=3, level="leaves")
    back = json.loads(json.dumps(run.changed()))  # tuples come back as lists
    assert settings_text(back, "f") == settings_text(run.changed(), "f")
    assert "more_models b+c" in settings_text(back, "f") and "level leaves" in settings_text(
        back, "f"
    )


def test_left_out_settings_are_not_said() -> None:
    run = config(backend="openai", base_url="http://x/v1", verify="drop")
    text = settings_text(run.changed(), None, leave_out=("base_url",))
    assert "base_url" not in text and "backend openai" in text and "taxonomy_path" in text
