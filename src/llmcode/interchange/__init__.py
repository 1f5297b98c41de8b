"""Exchange with other tools: REFI-QDA projects and codebooks (``refi``), GitHub issues
(``github``).
"""
