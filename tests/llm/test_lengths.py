"""Length caps on free-text answer fields: in the schema (self-hosted servers, the embedded
model) and in the prompt (every backend)."""

from llmcode.llm.answers import answer_schema
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.openai import OpenAIBackend, completion_body
from llmcode.llm.lengths import STRING_LIMITS, bounded_schema
from llmcode.llm.prompts import load_prompts, system_message
from llmcode.taxonomy.model import load_taxonomy
from tests.support import DATA


def test_free_text_fields_get_max_length_and_enums_stay_untouched():
    schema = bounded_schema(answer_schema(["a", "b"], False, quotes=None))
    code = schema["properties"]["codes"]["items"]["properties"]
    assert code["justification"]["maxLength"] == 200
    assert code["evidence"]["items"]["maxLength"] == 160
    assert "maxLength" not in code["code"]
    suggested = schema["properties"]["suggested_code"]["anyOf"][0]["properties"]
    assert suggested["name"]["maxLength"] == 60
    assert suggested["definition"]["maxLength"] == 200
    chosen = bounded_schema(answer_schema(["a"], False, quotes=["one.", "two."]))
    quote = chosen["properties"]["codes"]["items"]["properties"]["evidence"]["items"]
    assert "maxLength" not in quote


def test_bounded_schema_does_not_change_its_argument():
    schema = answer_schema(["a"], False)
    bounded_schema(schema)
    assert "maxLength" not in schema["properties"]["codes"]["items"]["properties"]["justification"]


def test_self_hosted_servers_get_the_caps_and_openai_does_not(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    request = ChatRequest(
        messages=({"role": "user", "content": "x"},), schema=answer_schema(["a"], False)
    )
    assert OpenAIBackend(base_url="http://127.0.0.1:8080/v1").bound_lengths
    assert not OpenAIBackend().bound_lengths
    body = completion_body(request, "m", "json_object+schema", bound_lengths=True)
    justification = body["response_format"]["schema"]["properties"]["codes"]["items"]
    assert justification["properties"]["justification"]["maxLength"] == 200
    plain = completion_body(request, "m", "json_schema")
    schema = plain["response_format"]["json_schema"]["schema"]
    assert "maxLength" not in schema["properties"]["codes"]["items"]["properties"]["justification"]


def test_the_prompt_states_the_length_caps():
    text = system_message(load_prompts(), load_taxonomy(DATA / "tiny.yaml"))["content"]
    assert "under 200 characters" in text
    assert "under 160 characters" in text


def test_a_justification_longer_than_the_schemas_max_length_is_a_problem_and_is_stored_cut():
    import json

    from llmcode.llm.answers import JUSTIFICATION_LIMIT, check_answer

    text = "The model is slow."
    huge = "because " * 600_000  # 4.8 MB, as a server that ignores maxLength sent
    content = json.dumps(
        {
            "codes": [
                {"code": "slow", "justification": huge, "evidence": [text], "confidence": 0.9}
            ],
            "suggested_code": {"name": "n" * 5000, "definition": "d" * 5000},
        }
    )
    checked = check_answer(content, text, ["slow"], multi_label=False)
    assert not checked.fatal and not checked.verified
    assert any("justification is 4,799,999 characters" in p for p in checked.problems)
    justification = checked.codes[0].justification
    assert len(justification) == JUSTIFICATION_LIMIT and justification.endswith("…")
    assert checked.suggested_code is not None
    assert len(checked.suggested_code.name) <= STRING_LIMITS["name"]
    assert len(checked.suggested_code.definition) <= STRING_LIMITS["definition"]


def test_a_justification_within_the_limit_is_kept_whole():
    import json

    from llmcode.llm.answers import JUSTIFICATION_LIMIT, check_answer

    text = "The model is slow."
    reason = "x" * JUSTIFICATION_LIMIT
    content = json.dumps(
        {
            "codes": [{"code": "slow", "justification": reason, "evidence": [text]}],
            "suggested_code": None,
        }
    )
    checked = check_answer(content, text, ["slow"], multi_label=False)
    assert checked.verified and checked.codes[0].justification == reason
