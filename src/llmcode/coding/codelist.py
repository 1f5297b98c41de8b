"""The running code list of open coding: deduplicated names, code ids, the bounded prompt view.

Two names are one code when their keys match: words lowercased and made singular, filler words
("error", "issue", "the") dropped, sorted — or when the keys are at least 90% alike (a typo).
``in_prompt()`` is what the LLM sees: the most used codes first, bounded in number and size.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel

from llmcode.taxonomy.model import NONE_CODE

PROMPT_CODES = 40
PROMPT_CHARS = 4000
# fmt: off
_FILLER = frozenset({
    "a", "an", "the", "of", "on", "in", "with", "for", "to", "and", "or", "when", "while",
    "after", "during", "error", "errors", "issue", "issues", "problem", "problems", "bug", "bugs",
})
# fmt: on


class OpenCode(BaseModel):
    """An entry of the run's code list: an id, a short name and a one-line definition."""

    code: str
    name: str
    definition: str = ""
    item_id: str = ""
    source: Literal["open", "taxonomy"] = "open"


def is_placeholder(text: str) -> bool:
    """Empty, or a template placeholder a small model copied (``<short label>``, ``...``)."""
    return not re.sub(r"<[^>]*>|\.\.\.|…", "", text).strip(" .:-")


def name_key(name: str) -> str:
    """What two names must share to be one code: their words, lowercased, singular, sorted."""
    words = [
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in re.findall(r"[a-z0-9]+", name.lower())
    ]
    kept = [w for w in words if w not in _FILLER] or words
    return " ".join(sorted(set(kept)))


def slugify(name: str, taken: Iterable[str] = ()) -> str:
    """A code id (``^[a-z][a-z0-9_]*$``, at most 40 characters) unique among ``taken``."""
    slug = "_".join(re.findall(r"[a-z0-9]+", name.lower()))[:40].strip("_") or "code"
    if not slug[0].isalpha():
        slug = f"c_{slug}"
    if slug == NONE_CODE:
        slug = "none_fits"
    used = set(taken)
    candidate, n = slug, 2
    while candidate in used:
        candidate, n = f"{slug}_{n}", n + 1
    return candidate


class CodeList:
    """The running, deduplicated code list; ``in_prompt()`` is its bounded view for the LLM."""

    def __init__(
        self, codes: Iterable[OpenCode] = (), limit: int = PROMPT_CODES, chars: int = PROMPT_CHARS
    ) -> None:
        self.limit, self.chars = limit, chars
        self.codes: dict[str, OpenCode] = {}
        self.counts: Counter[str] = Counter()
        self._keys: dict[str, str] = {}
        for code in codes:
            self.add(code)

    def __len__(self) -> int:
        return len(self.codes)

    def add(self, code: OpenCode) -> None:
        self.codes[code.code] = code
        self._keys.setdefault(name_key(code.name), code.code)

    def find(self, name: str) -> OpenCode | None:
        """The code this name means: same key, or a key at least 90% alike (a typo)."""
        key = name_key(name)
        if key in self._keys:
            return self.codes[self._keys[key]]
        close = difflib.get_close_matches(key, list(self._keys), n=1, cutoff=0.9)
        return self.codes[self._keys[close[0]]] if close else None

    def assign(self, name: str, definition: str, item_id: str) -> tuple[OpenCode, bool]:
        """The existing code for ``name``, or a new one; True when it is new."""
        found = self.find(name)
        if found is not None:
            return found, False
        code = OpenCode(
            code=slugify(name, self.codes), name=name, definition=definition, item_id=item_id
        )
        self.add(code)
        return code, True

    def in_prompt(self) -> list[OpenCode]:
        """Most used codes first (then oldest), at most ``limit`` and about ``chars`` characters."""
        order = {code: i for i, code in enumerate(self.codes)}
        ranked = sorted(self.codes.values(), key=lambda c: (-self.counts[c.code], order[c.code]))
        shown: list[OpenCode] = []
        size = 0
        for code in ranked[: self.limit]:
            short = code.model_copy(update={"definition": _clip(code.definition, 100)})
            size += len(short.name) + len(short.definition) + 4
            if shown and size > self.chars:
                break
            shown.append(short)
        return shown


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
