"""llmcode: LLM-assisted qualitative coding with verified evidence, agreement, review, reports."""

__version__ = "0.1.0"
