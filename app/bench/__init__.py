"""``planpulse bench``: planpulse measured against the floor, on SQLite and PostgreSQL.

- :mod:`app.bench.synthetic` makes a deterministic plan (action lines x measures x
  deliverables, weights, tags, percentages) and its status history, and loads it in bulk;
- :mod:`app.bench.floors` holds the hand-written SQL and raw writes that are the floor;
- :mod:`app.bench.measure` times planpulse's service code and HTTP API beside them;
- :mod:`app.bench.report` prints the table and writes it as JSON;
- :mod:`app.bench.run` runs it all, and is the ``bench`` command.

How to run it and what each figure means: docs/performance.md.
"""
