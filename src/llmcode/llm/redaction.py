"""Secrets out of everything llmcode stores or prints: API keys in errors, URLs and manifests.

``redact(text)`` replaces with ``***``:

- the values of the secret environment variables in use (``OPENAI_API_KEY``, ``GITHUB_TOKEN``,
  any ``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD`` of 8 characters or more), wherever
  they appear;
- keys of well-known shapes (``sk-...``, ``ghp_...``, ``github_pat_...``) and ``Bearer`` tokens;
- the password of a URL's user info (``https://user:KEY@host``) and the value of every query
  parameter whose name looks like a credential (ends with ``key``, ``code``, ``token``,
  ``secret``, ``sig``, ``signature``, ``password``, ``auth``…: ``?api_key=``, ``?code=`` of Azure
  Functions, ``?subscription-key=``, ``&X-Amz-Signature=``).

Replacements hold no quotes or backslashes, so JSON text stays JSON. The run store redacts
manifests and the errors of coding records as it writes them; batch collection redacts what
providers say (error messages and the downloaded files); the CLI redacts every error it
prints. A key redacted from a stored ``base_url`` is not recoverable: give keys through
``OPENAI_API_KEY``, which is never stored.
"""

from __future__ import annotations

import os
import re

MASK = "***"
_SECRET_ENV = re.compile(r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
_MIN_SECRET = 8
_CREDENTIAL = (
    "key|code|token|secret|sig|signature|password|passwd|pwd|pass|auth|authorization"
    "|credential|credentials|session"
)
"""Query parameters whose name *ends* with one of these are credentials: ``?code=`` (Azure
Functions), ``subscription-key``, ``api-key``, ``X-Amz-Signature``, ``client_secret``."""
_PATTERNS = [
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), "sk-" + MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"), MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), MASK),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{6,}"), r"\1" + MASK),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@\"'\\]*:)[^@/\s\"'\\]+@"), r"\1" + MASK + "@"),
    (
        re.compile(rf"(?i)([?&;][\w.\-]*?(?:{_CREDENTIAL})(?:=|%3D))[^&#\s\"'\\]+"),
        r"\1" + MASK,
    ),
]


def secrets_in_environment() -> list[str]:
    """Values of secret-looking environment variables, longest first."""
    found = {
        value
        for name, value in os.environ.items()
        if _SECRET_ENV.search(name) and len(value) >= _MIN_SECRET
    }
    return sorted(found, key=len, reverse=True)


def redact(text: str | None, extra: tuple[str, ...] = ()) -> str | None:
    """``text`` with every secret it holds replaced by ``***`` (None stays None)."""
    if not text:
        return text
    for secret in (*extra, *secrets_in_environment()):
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
