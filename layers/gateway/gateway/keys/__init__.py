"""Virtual keys, teams, budgets, rate limits and spend, on DynamoDB, correct across instances.

Laid out like Powertools' idempotency utility:
- ``models.py``   records (key, team, usage counters, spend log); ``errors.py`` the errors;
- ``store/``      the storage interface (``base.py``) and its DynamoDB implementation;
- ``limits.py``   the admission algorithm (one conditional write per item), ``budgets.py`` the
                  money arithmetic and budget periods, ``durations.py`` ``30s``/``1d``/``1mo``;
- ``resolve.py``  token -> Principal (cached), ``enforce.py`` admit/settle/release and model access,
  ``spend.py``    exactly-once settlement with retries and a replay queue;
- ``admin.py``    key/team/spend operations behind ``routes.py`` (LiteLLM-compatible admin API).
"""
