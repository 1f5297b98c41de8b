"""Talking to a model: backends, prompts, the answer schema and its checks, and THE ask loop.

``backends/`` (openai, local llama.cpp, fake, rate limiter) answer `ChatRequest`s; ``prompts``
renders the templates; ``answers`` builds the schema and checks an answer (``evidence`` verifies
quotes, ``lengths`` caps free text, ``logprobs`` reads code probabilities); ``cache`` stores
responses; ``ask`` is the one ask -> check -> re-ask loop every command goes through; ``redaction``
keeps secrets out of anything stored or printed.
"""
