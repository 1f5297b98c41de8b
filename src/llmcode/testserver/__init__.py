"""An OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks: latency, limits, faults.

``TestServer`` serves ``GET /v1/models``, ``POST /v1/chat/completions`` (non-streaming) and the
Files and Batches subset the ``openai`` SDK uses (``POST /v1/files``, ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches/{id}``,
``POST /v1/batches/{id}/cancel``) from ``http.server`` threads with HTTP/1.1 keep-alive.
``ServerConfig`` sets the latency, the RPM/TPM limits (a sliding 60 s window; over it: 429 with
``Retry-After`` and ``retry-after-ms``), the faults (a deterministic ``fault_script`` first, then
``fault_rate`` drawn with a seeded RNG across ``fault_weights``) and the responder that writes the
message content. ``server.stats`` is a ``ServerStats`` snapshot of what happened.

The server is bounded: it stops itself after ``max_requests`` requests or ``max_seconds``, wakes
every sleeping handler and closes every connection when it stops, and binds 127.0.0.1 only::

    with TestServer(ServerConfig(fault_script=("rate_limit", "ok"))) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
    server.stats.status_counts  # {429: 1, 200: 1}

Modules: ``config`` (ServerConfig), ``server`` (TestServer and the HTTP handler), ``responder``
(message content and the ChatCompletion around it), ``batches`` (Files and Batches),
``accounting`` (ServerStats, rate limiter). ``python -m llmcode.testserver --help`` runs one.
"""

from llmcode.testserver.accounting import RecordedRequest, ServerStats, message_key
from llmcode.testserver.config import FAULT_KINDS, HOST, ServerConfig
from llmcode.testserver.responder import Responder, default_responder
from llmcode.testserver.server import TestServer

__all__ = [
    "FAULT_KINDS",
    "HOST",
    "RecordedRequest",
    "Responder",
    "ServerConfig",
    "ServerStats",
    "TestServer",
    "default_responder",
    "message_key",
]
