"""What a run leaves on disk: ``runs`` (manifest, codings.jsonl, listing), ``decisions`` (review
lines), ``export`` (long-format tables), the run ``lock`` and the ``ledger`` of in-flight requests.
"""
