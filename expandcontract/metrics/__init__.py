"""Prometheus metrics: what `serve /metrics` and `run migrate --metrics-port` expose.

- `catalog.py`: every metric name we export, its type and labels (the docs and the Grafana dashboard
  name only these; a test scrapes both endpoints and checks the catalog is exact).
- `reasons.py`: a throttle reason text -> a fixed, low-cardinality `reason` label (pure).
- `state.py`: a Collector that reads the backfill checkpoint tables and the audit log at scrape time, so
  any process pointed at the database shows every backfill and every phase run.
- `live.py`: in-process events (batches, gate answers) as counters and histograms.
- `http.py`: the exposition (text for serve's route, a loopback HTTP server for `run`).

Only the CLI paths that expose metrics import this package (prometheus_client is not loaded otherwise).
"""
