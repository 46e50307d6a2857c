"""deploy/grafana/expandcontract.json: every expression names only metrics we export (the catalog, which
the scrape tests hold exact), and the dashboard shows what a backfill needs (rate, ETA, throttle reasons)
and the gates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from expandcontract.metrics.catalog import ALL, exported_series

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "expandcontract.json"

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")  # label matchers, after strings are gone
_RANGES = re.compile(r"\[[^\[\]]*\]")  # [5m], [$__rate_interval], [1h:1m]
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLES = re.compile(r"\$\{?\w+\}?")
_IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?")
KEYWORDS = {
    *("bool", "offset", "and", "or", "unless", "inf", "nan"),
    *("by", "without", "on", "ignoring", "group_left", "group_right"),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (function and aggregation names are followed by `(`)."""
    text = _STRINGS.sub('""', expr)
    text = _VARIABLES.sub("1", _RANGES.sub("", _MATCHERS.sub("", text)))
    text = _GROUPING.sub("", text)
    return {m.group(1) for m in _IDENT.finditer(text) if not m.group(2) and m.group(1).lower() not in KEYWORDS}


_BY = re.compile(r"\b(?:by|without)\s*\(([^()]*)\)")
_MATCHER_LABELS = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
TARGET_LABELS = {"instance", "job"}  # Prometheus adds them to every series


def labels_of(series: str) -> set[str]:
    for name, metric in ALL.items():
        if series == name or (metric.kind == "histogram" and series in (f"{name}_sum", f"{name}_count")):
            return set(metric.labels)
        if metric.kind == "histogram" and series == f"{name}_bucket":
            return {*metric.labels, "le"}
    raise AssertionError(f"{series} is not exported")


def _expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    for var in dashboard["templating"]["list"]:
        if var.get("type") == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            inner = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query)
            assert inner, query
            out.append((f"variable {var['name']}", inner.group(1)))
    return out


def test_the_parser_finds_names_and_only_names() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (backfill, le) (rate(a_bucket{backfill=~"$backfill", x="rate(b)"}'
        "[$__rate_interval]))) / on(backfill) group_left c_total offset 5m > bool 0"
    )
    assert metric_names(expr) == {"a_bucket", "c_total"}
    assert metric_names("time() - max by (x) (d_seconds)") == {"d_seconds"}


def test_every_panel_names_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_series()
    used: set[str] = set()
    for title, expr in _expressions(dashboard):
        found = metric_names(expr)
        assert found, f"{title}: no metric in {expr!r}"
        assert found <= exported, f"{title}: {sorted(found - exported)} are not exported"
        used |= found
        known = TARGET_LABELS.union(*(labels_of(n) for n in found))
        grouped = {x.strip() for g in _BY.findall(expr) for x in g.split(",") if x.strip()}
        matched = {m for block in _MATCHERS.findall(_STRINGS.sub('""', expr)) for m in _MATCHER_LABELS.findall(block)}
        assert grouped | matched <= known, f"{title}: labels {sorted((grouped | matched) - known)} do not exist"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p.get("targets") for p in panels)
    titles = {p["title"] for p in panels}
    assert {"Rows per second", "ETA", "Throttled, by reason", "Gate answers", "Last gate decision"} <= titles
    assert {
        "expandcontract_backfill_rows_done",
        "expandcontract_backfill_rows_estimated",
        "expandcontract_backfill_throttled",
        "expandcontract_backfill_batch_duration_seconds_bucket",
        "expandcontract_gate_decisions_total",
        "expandcontract_phase_runs",
    } <= used
