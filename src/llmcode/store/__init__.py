"""What a run leaves on disk: ``runs`` (the run folder and the store of them), ``models`` (config,
manifest, coding records), ``jsonl`` (durable writes and appends), ``decisions`` (review lines),
``export`` (long-format tables), the run ``lock`` and the ``ledger`` of in-flight requests.
"""
