"""Coding documents in passages (``unit = "segment"``): windows, one ask loop per window, merging.

A `SegmentCoder` codes one document at a time. Its text is read in overlapping windows
(`llmcode.llm.windows`) sized from the model's context (`context_tokens`: the setting, else the
backend's own, else ``LLMCODE_N_CTX`` for the embedded model and 8,192 for an endpoint): the
codebook and instructions are counted, 10% is kept as a margin for the token count, and the rest
is shared between the window's text and the answer (which may quote all of it). Each window goes
through the one ask loop (`llmcode.llm.ask.ask`): its passages are located in the window
(`llmcode.llm.passages`), a passage not in the text is re-asked (the window again with the
problems, not the long answer, so the re-ask fits the context too), then kept flagged
(unverified, without offsets) — never dropped. A request the backend refuses as longer than its
context (it counts tokens its own way) is split like one that does not fit. A window whose
messages do not fit, or whose answer was cut off at the token limit, is split in two on a
paragraph or sentence boundary and each half coded (once, for a cut-off answer: the answer of a
half cut off again is a failed window, flagged), never truncated; the schema bounds the passages
per window (one per 200 characters). Passages are then merged per code: the same code on
overlapping stretches — a passage found twice in overlapping windows — becomes one passage over
both. The record holds the passages (``segments``) and, as ``codes``, every code they carry (so
item-level tools work).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmcode import environment
from llmcode.coding.closed import Coder, assignable
from llmcode.coding.costs import Estimate, cached_prefix, token_counter
from llmcode.coding.prices import load_price_table
from llmcode.errors import BackendError, ConfigError, LlmcodeError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.ask import Exchange, Usage, ask
from llmcode.llm.backends.base import Backend, ChatRequest, ChatResponse
from llmcode.llm.evidence import Span, candidate_quotes
from llmcode.llm.passages import (
    CheckedPassages,
    Segment,
    SegmentCode,
    check_passages,
    passage_schema,
)
from llmcode.llm.prompts import SEGMENT_REASK, SEGMENT_SYSTEM, SEGMENT_USER, PromptSet
from llmcode.llm.windows import MIN_WINDOW_CHARS, Window, halves, split_windows
from llmcode.store.config import RunConfig
from llmcode.store.models import CodingRecord, CodingStep
from llmcode.taxonomy.model import Level, Taxonomy

ENDPOINT_CONTEXT = 8192
CONTEXT_SHARE = 0.9
ANSWER_OVERHEAD = 200  # tokens of JSON around the quoted passages (codes, justifications)
ANSWER_SHARE = 0.5  # the estimate: an answer quotes about half its window
CHARS_PER_TOKEN = 4
MAX_SPLITS = 4
CHARS_PER_PASSAGE = 200  # the schema's bound on passages per window: one per 200 characters


def context_tokens(config: RunConfig, backend: Backend) -> int:
    """The context a window must fit: the setting, the backend's own, else the default."""
    if config.endpoint.context_tokens:
        return config.endpoint.context_tokens
    own = getattr(backend, "n_ctx", None)
    if isinstance(own, int) and own > 0:
        return own
    if config.endpoint.backend == "local":
        return int(environment.embedded_context() or environment.DEFAULT_N_CTX)
    return ENDPOINT_CONTEXT


def check_segment_settings(config: RunConfig) -> None:
    """Refuse what coding in passages does not do (yet), naming the setting."""
    refused = [
        ("samples", config.sampling.samples > 1),
        ("items_per_request", config.sampling.items_per_request > 1),
        ("examples", config.guidance.examples is not None),
        ("verify", config.guidance.verify != "off"),
    ]
    named = [name for name, bad in refused if bad]
    if named:
        raise ConfigError(
            "coding in passages (`unit` segment) does not take "
            + ", ".join(f"`{name}`" for name in named),
            hint="leave them at their defaults, or code whole items (`unit` item)",
        )


@dataclass
class DocumentState:
    """What the windows of one document gave so far."""

    usage: Usage = field(default_factory=Usage)
    segments: list[Segment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    raw: str | None = None
    windows: int = 0
    failed: int = 0
    steps: list[CodingStep] = field(default_factory=list)


@dataclass
class SegmentCoder(Coder):
    """Codes documents in passages; the run's coder when ``unit`` is ``segment``."""

    context: int = field(init=False, default=0)
    window_chars: int = field(init=False, default=0)
    sizing: bool = field(default=True, repr=False)
    """False for a coder of some branches only (top-down): its windows are its parent's."""

    def __post_init__(self) -> None:
        check_segment_settings(self.config)
        level = self.config.inputs.level
        self.code_ids = assignable(self.taxonomy, level)
        self.below = self.taxonomy.below(level)
        self.schema = passage_schema(self.code_ids, self.taxonomy.multi_label)
        self.system = segment_system(self.prompts, self.taxonomy, level)
        self.context = context_tokens(self.config, self.backend)
        if self.sizing:
            self.window_chars = self.room_for_text(self.overhead())

    def overhead(self) -> int:
        """Prompt tokens of a window's request without the window's text."""
        return self.tokens([self.system, self.window_message("", Window(0, 0, ""), 1, 1)])

    def room_for_text(self, overhead: int) -> int:
        """Characters of a window, from the context left after ``overhead`` tokens."""
        text_tokens = (int(self.context * CONTEXT_SHARE) - overhead - ANSWER_OVERHEAD) // 2
        if text_tokens * CHARS_PER_TOKEN < MIN_WINDOW_CHARS:
            inputs = self.config.inputs
            hint = "give a larger context (`context_tokens`, LLMCODE_N_CTX) or code the "
            if inputs.level == "leaves" and inputs.hierarchy == "flat":
                hint += "codes top-down (`hierarchy` top-down) or the "
            raise ConfigError(
                f"the codebook and instructions take {overhead} tokens of the model's "
                f"{self.context}-token context: no room for a window of a document",
                hint=hint + "top-level categories (`level` top)",
            )
        return text_tokens * CHARS_PER_TOKEN

    def tokens(self, messages: Iterable[dict[str, str]]) -> int:
        """Prompt tokens of ``messages`` (tiktoken when installed, else characters / 4)."""
        count, _ = token_counter(self.backend.model)
        return sum(count(m["content"]) + 4 for m in messages) + 2

    def windows(self, item: Item) -> list[Window]:
        return split_windows(item.text, self.window_chars)

    def window_message(self, item_id: str, window: Window, part: int, parts: int) -> dict[str, str]:
        content = self.prompts.render(
            SEGMENT_USER, item_id=item_id, text=window.text, part=part, parts=parts
        )
        return {"role": "user", "content": content}

    def item_messages(self, item: Item) -> tuple[list[dict[str, str]], list[str]]:
        raise ConfigError(
            "documents coded in passages are asked window by window, not as one request",
            hint="code them without --batch",
        )

    def reask_message(self, problems: list[str]) -> dict[str, str]:
        return {"role": "user", "content": self.prompts.render(SEGMENT_REASK, problems=problems)}

    def window_schema(self, window: Window) -> dict:
        """At most a passage per ``CHARS_PER_PASSAGE`` characters of the window; with
        ``evidence="choice"`` the passages are the window's own sentences."""
        most = max(4, len(window) // CHARS_PER_PASSAGE)
        choices = None
        if self.config.sampling.evidence == "choice":
            choices = candidate_quotes(window.text, limit=80)
            most = min(most, len(choices))
        return passage_schema(self.code_ids, self.taxonomy.multi_label, choices, most)

    async def code(self, item: Item) -> CodingRecord:
        """Every window of one document, merged into one record; failures become error records
        that count the attempts answered before."""
        state = DocumentState()
        try:
            windows = self.windows(item)
            for part, window in enumerate(windows, start=1):
                await self.code_part(item, window, part, len(windows), state)
        except Exception as exc:  # one document's failure must not lose the run
            message = (
                exc.message if isinstance(exc, LlmcodeError) else f"{type(exc).__name__}: {exc}"
            )
            error = CodingRecord(item_id=item.item_id, status="error", error=message)
            return _counted(error, state.usage)
        segments = merge_segments(state.segments, item.text)
        status = "ok"
        if state.failed and state.failed == state.windows:
            status = "invalid"
        elif state.problems:
            status = "unverified"
        record = CodingRecord(
            item_id=item.item_id,
            status=status,
            codes=item_codes(segments),
            problems=state.problems,
            raw=state.raw if status != "ok" else None,
            model=self.backend.model,
            segments=segments,
            steps=state.steps,
        )
        return _counted(record, state.usage)

    async def code_part(
        self, item: Item, window: Window, part: int, parts: int, state: DocumentState
    ) -> None:
        """Code one window of the document (top-down coding asks its categories first)."""
        await self.code_window(item, window, part, parts, state)

    def window_request(
        self, item: Item, window: Window, part: int, parts: int
    ) -> tuple[ChatRequest, int]:
        """The first request for one window, and the context's room left for its answer."""
        messages = [self.system, self.window_message(item.item_id, window, part, parts)]
        room = int(self.context * CONTEXT_SHARE) - self.tokens(messages)
        request = ChatRequest(
            messages=tuple(messages),
            schema=self.window_schema(window),
            schema_name="passages",
            temperature=self.config.sampling.temperature,
            max_tokens=max(self.config.sampling.max_tokens, room),
            seed=self.config.sampling.seed,
        )
        return request, room

    async def code_window(
        self,
        item: Item,
        window: Window,
        part: int,
        parts: int,
        state: DocumentState,
        depth: int = 0,
        halved: bool = False,
    ) -> None:
        """Ask for one window's passages: split in two when its messages do not fit; read in
        halves, once, when the answer was cut off at the token limit (a half whose answer is
        cut off again is recorded as a failed window, its problem kept)."""
        request, room = self.window_request(item, window, part, parts)
        answer = math.ceil(len(window) / CHARS_PER_TOKEN) + ANSWER_OVERHEAD
        splittable = depth < MAX_SPLITS and len(window) >= 2 * MIN_WINDOW_CHARS
        if answer > room and splittable:
            for half in halves(window):
                await self.code_window(item, half, part, parts, state, depth + 1)
            return

        def check(response: Any) -> tuple[CheckedPassages, list[str], bool]:
            checked = check_passages(
                response.content,
                window,
                self.code_ids,
                self.taxonomy.multi_label,
                self.below,
            )
            return checked, checked.problems, checked.fatal

        def reask(first: ChatRequest, response: ChatResponse, problems: list[str]) -> ChatRequest:
            # the window again with the problems, not the long answer: it must fit the context
            message = self.reask_message(problems)
            left = room - self.tokens([message])
            return replace(
                request,
                messages=(*request.messages, message),
                max_tokens=max(self.config.sampling.max_tokens, left),
            )

        asked: Exchange[CheckedPassages] = Exchange()
        try:
            await ask(
                self.backend,
                request,
                check,
                reask,
                cache=self.cache,
                max_reasks=self.config.sampling.max_reasks,
                exchange=asked,
            )
        except BackendError as exc:
            if not (splittable and _too_long(exc)):
                raise
            for half in halves(window):  # the server counted more tokens than we did
                await self.code_window(item, half, part, parts, state, depth + 1, halved)
            return
        finally:
            state.usage = state.usage + asked.usage
        cut_off = asked.fatal and asked.response.finish_reason == "length"
        if cut_off and splittable and not halved:
            for half in halves(window):  # the answer did not fit: read the window in halves
                await self.code_window(item, half, part, parts, state, depth + 1, True)
            return
        state.windows += 1
        where = f"window [{window.start}, {window.end})"
        state.problems += [f"{where}: {problem}" for problem in asked.problems]
        if asked.problems:
            state.raw = asked.raw
        if asked.fatal or asked.value is None:
            state.failed += 1
            return
        state.segments += asked.value.segments

    def segment_estimate(
        self, items: Sequence[Item], model: str, prices: str | Path | None = None
    ) -> Estimate:
        """Windows, requests and tokens of coding ``items`` in passages (nothing is sent);
        an answer is taken to quote half of its window (re-asks not included)."""
        count, how = token_counter(model)
        windows = prompt = output = 0
        for item in items:
            parts = self.windows(item)
            for part, window in enumerate(parts, start=1):
                message = self.window_message(item.item_id, window, part, len(parts))
                prompt += self.tokens([self.system, message])
                output += math.ceil(count(window.text) * ANSWER_SHARE) + ANSWER_OVERHEAD // 4
                windows += 1
        table = load_price_table(prices)
        system = count(self.system["content"]) + 4
        return Estimate(
            items=len(items),
            requests=windows,
            prompt_tokens=prompt,
            output_tokens=output,
            counter=how,
            price=table.price(model),
            cached_prompt_tokens=cached_prefix(system) * max(0, windows - 1),
            price_date=table.date,
            price_source=table.source,
            windows=windows,
        )


def segment_system(prompts: PromptSet, taxonomy: Taxonomy, level: Level) -> dict[str, str]:
    """The system message of coding in passages: instructions and the codebook at ``level``
    (categories that are not codable shown as context)."""
    content = prompts.render(
        SEGMENT_SYSTEM,
        taxonomy=taxonomy,
        categories=taxonomy.shown(level),
        level=level,
        multi_label=taxonomy.multi_label,
        context=taxonomy.context.strip(),
    )
    return {"role": "system", "content": content}


def _too_long(exc: BackendError) -> bool:
    """Whether a backend refused a request for not fitting the model's context."""
    text = str(exc).lower()
    return "context" in text and any(w in text for w in ("exceed", "too long", "maximum"))


def merge_segments(segments: Sequence[Segment], text: str) -> list[Segment]:
    """Located passages merged per code (overlapping stretches of one code become one), those
    sharing a stretch as one passage with several codes, in text order; then the unverified."""
    per_code: dict[str, list[tuple[int, int, SegmentCode]]] = {}
    for segment in segments:
        if segment.verified and segment.start is not None and segment.end is not None:
            for code in segment.codes:
                per_code.setdefault(code.code, []).append((segment.start, segment.end, code))
    stretches: dict[tuple[int, int], list[SegmentCode]] = {}
    for spans in per_code.values():
        spans.sort(key=lambda span: (span[0], span[1]))
        start, end, code = spans[0]
        for next_start, next_end, other in spans[1:]:
            if next_start < end:
                end = max(end, next_end)
                code = _stronger(code, other)
                continue
            stretches.setdefault((start, end), []).append(code)
            start, end, code = next_start, next_end, other
        stretches.setdefault((start, end), []).append(code)
    merged = [
        Segment(start=start, end=end, quote=text[start:end], codes=codes, verified=True)
        for (start, end), codes in sorted(stretches.items())
    ]
    seen: set[str] = set()
    for segment in segments:
        if not segment.verified and segment.quote not in seen:
            seen.add(segment.quote)
            merged.append(segment)
    return merged


def _stronger(first: SegmentCode, second: SegmentCode) -> SegmentCode:
    """The first code's justification, with the higher of the two confidences."""
    levels = [c for c in (first.confidence, second.confidence) if c is not None]
    return first.model_copy(update={"confidence": max(levels) if levels else None})


def item_codes(segments: Sequence[Segment]) -> list[CodeAssignment]:
    """Every code the passages carry, with up to three passages as its evidence."""
    found: dict[str, CodeAssignment] = {}
    for segment in segments:
        span = Span(
            quote=segment.quote, start=segment.start, end=segment.end, verified=segment.verified
        )
        for code in segment.codes:
            known = found.get(code.code)
            if known is None:
                found[code.code] = CodeAssignment(
                    code=code.code,
                    justification=code.justification,
                    evidence=[span],
                    confidence=code.confidence,
                )
                continue
            levels = [c for c in (known.confidence, code.confidence) if c is not None]
            found[code.code] = known.model_copy(
                update={
                    "evidence": known.evidence + ([span] if len(known.evidence) < 3 else []),
                    "confidence": max(levels) if levels else None,
                }
            )
    return list(found.values())


def _counted(record: CodingRecord, usage: Usage) -> CodingRecord:
    return record.model_copy(
        update={
            "attempts": record.attempts + usage.calls,
            "cached_calls": record.cached_calls + usage.cached_calls,
            "prompt_tokens": record.prompt_tokens + usage.prompt_tokens,
            "completion_tokens": record.completion_tokens + usage.completion_tokens,
        }
    )
