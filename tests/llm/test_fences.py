import json

import pytest
from pydantic import BaseModel

from llmcode.llm.answers import check_answer
from llmcode.llm.ask import parse_json
from llmcode.llm.checks import parse_check
from llmcode.llm.fences import strip_fences
from llmcode.llm.logprobs import _answer_codes

BODY = '{"codes": [{"code": "usage"}]}'

FENCED = [
    f"```json\n{BODY}\n```",
    f"```\n{BODY}\n```",
    f"  ```JSON\n{BODY}\n```  \n",
    f"```json\n{BODY}\n```\nHope this helps!",
    f"```json\n{BODY}",  # the closing fence was cut off (max_tokens)
    f"```json {BODY}```",
    f"```{BODY}```",
]


@pytest.mark.parametrize("content", FENCED)
def test_a_fenced_answer_loses_its_fence_its_tag_and_what_follows(content):
    assert strip_fences(content) == BODY


def test_an_answer_without_a_fence_only_loses_surrounding_whitespace():
    assert strip_fences(f"\n  {BODY}\n") == BODY
    assert strip_fences('{"text": "a ``` inside"}') == '{"text": "a ``` inside"}'


def test_a_fence_inside_the_json_is_kept_when_the_answer_is_not_fenced():
    inner = json.dumps({"quote": "```\ncode\n```"})
    assert json.loads(strip_fences(inner)) == {"quote": "```\ncode\n```"}


class _Named(BaseModel):
    codes: list[dict[str, str]]


@pytest.mark.parametrize("content", FENCED)
def test_every_parser_of_a_model_answer_reads_a_fenced_answer_the_same_way(content):
    answer = json.dumps(
        {
            "codes": [
                {"code": "usage", "justification": "j", "evidence": ["fix"], "confidence": 0.9}
            ],
            "suggested_code": None,
        }
    )
    wrapped = content.replace(BODY, answer)
    checked = check_answer(wrapped, "please fix", ["usage", "none"], multi_label=False)
    assert not checked.fatal and [c.code for c in checked.codes] == ["usage"]
    assert _answer_codes(wrapped) == ["usage"]
    parsed, problem = parse_json(content, _Named)
    assert problem is None and parsed is not None and parsed.codes == [{"code": "usage"}]
    check = json.dumps({"verdict": "keep", "reason": "r", "alternative": None})
    verdict = parse_check(content.replace(BODY, check), ["usage"])
    assert verdict is not None and verdict.verdict == "keep"
