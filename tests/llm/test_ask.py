import asyncio

from hypothesis import given
from hypothesis import strategies as st

from llmcode.llm.ask import Usage, ask, ask_json, follow_up
from llmcode.llm.backends.base import ChatRequest, ChatResponse
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.cache import ResponseCache

counts = st.integers(min_value=0, max_value=10**6)


@given(st.builds(Usage, counts, counts, counts, counts), st.integers(min_value=1, max_value=50))
def test_shares_are_whole_numbers_that_add_up_to_the_total_and_differ_by_at_most_one(usage, n):
    shares = usage.split(n)
    assert len(shares) == n and sum(shares, Usage()) == usage
    for column in ("calls", "cached_calls", "prompt_tokens", "completion_tokens"):
        values = [getattr(share, column) for share in shares]
        assert max(values) - min(values) <= 1


def check_even(response):
    """A check that accepts an even number and lists a problem otherwise."""
    value = int(response.content)
    return value, [] if value % 2 == 0 else [f"{value} is odd"], False


def ask_number(backend, **options):
    request = ChatRequest(messages=({"role": "user", "content": "an even number"},), schema={})
    reask = follow_up(lambda problems: {"role": "user", "content": "; ".join(problems)})
    return asyncio.run(ask(backend, request, check_even, reask, **options))


def test_the_loop_reasks_with_the_problems_and_counts_every_attempt():
    backend = FakeBackend(["3", "5", "8"])
    asked = ask_number(backend, max_reasks=2)
    assert asked.value == 8 and asked.problems == [] and asked.attempts == 3
    assert backend.calls[2].messages[-2:] == (
        {"role": "assistant", "content": "5"},
        {"role": "user", "content": "5 is odd"},
    )
    assert asked.usage.calls == 3
    assert asked.usage.prompt_tokens == sum(u.prompt_tokens for u in asked.per_attempt) > 0


def test_the_last_answer_is_kept_with_its_problems_when_the_reasks_run_out():
    asked = ask_number(FakeBackend(["3", "5", "8"]), max_reasks=1)
    assert asked.value == 5 and asked.problems == ["5 is odd"] and asked.raw == "5"


def test_an_answer_from_elsewhere_stands_for_the_first_attempt_and_is_cached(tmp_path):
    cache = ResponseCache(tmp_path)
    backend = FakeBackend(["4"])
    asked = ask_number(backend, first=ChatResponse(content="7"), cache=cache)
    assert asked.value == 4 and len(backend.calls) == 1  # only the re-ask went out
    again = ask_number(FakeBackend([]), cache=cache)  # both answers now come from the cache
    assert again.value == 4 and again.usage.cached_calls == 2


def test_ask_json_checks_the_text_and_reasks_with_the_callers_words():
    backend = FakeBackend(['{"n": 1}', '{"n": 2}'])
    asked = asyncio.run(
        ask_json(
            backend,
            [{"role": "user", "content": "n?"}],
            {"type": "object"},
            lambda text: (text, [] if "2" in text else ["n must be 2"], False),
            reask=lambda problems: "fix: " + problems[0],
        )
    )
    assert (
        asked.value == '{"n": 2}' and backend.calls[1].messages[-1]["content"] == "fix: n must be 2"
    )
