"""``python -m llmcode``: the command line."""

from llmcode.cli import main

main()
