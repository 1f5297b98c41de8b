"""How good the codes are: ``agreement/`` (κ, α, AC1 ...), ``eval`` against gold codes with CIs and
a human ceiling (``segment_eval`` for passages), ``confidence``, ``calibration``, ``thresholds``
and ``audit`` of human labels.
"""
