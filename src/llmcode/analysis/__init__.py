"""The study's analysis and report: ``sources`` (where codes come from), ``study`` (distributions,
resolution times), ``significance``, ``ppi`` and ``gold`` (prediction-powered inference),
``evaluation``, and ``report`` (with its ``human_agreement`` and ``excerpts`` sections) rendered
to HTML or Markdown with ``figures``.
"""
