"""The public API of expandcontract.verify, pinned: the demo and other commands call it."""

from __future__ import annotations

import inspect

import expandcontract.verify as verify


def test_public_names_are_pinned() -> None:
    assert verify.__all__ == ["Report", "RevisionResult", "verify", "verify_project"]


def test_verify_project_signature() -> None:
    params = inspect.signature(verify.verify_project).parameters
    assert list(params) == ["config", "server_url", "orders", "since", "progress", "baseline"]
    assert params["server_url"].default is None and params["since"].default is None
    assert params["orders"].default == ("alembic", "change", "release")


def test_report_json_keys() -> None:
    report = verify.Report(server="s", orders=["alembic"])
    report.results.append(verify.RevisionResult("abc", "c", "expand", "alembic", "p.py", status="fail"))
    doc = report.to_dict()
    assert list(doc) == ["ok", "orders", "since", "server", "seconds", "notes", "revisions"]
    assert doc["ok"] is False
    assert {"revision", "change", "phase", "status", "differences"} <= doc["revisions"][0].keys()


def test_text_says_a_finding_once_naming_its_orders() -> None:
    report = verify.Report(server="s", orders=["alembic", "change"])
    for order in ("alembic", "change"):
        report.results.append(
            verify.RevisionResult(
                "abc123", "c", "expand", order, "p.py", status="fail", differences=["index ix still exists"]
            )
        )
        report.results.append(
            verify.RevisionResult("def456", "c", "contract", order, "q.py", status="fail", differences=["x", "y"])
        )
    lines = report.render_text().splitlines()
    assert lines[:4] == [
        "FAIL abc123 (c expand) in alembic, change orders: p.py",
        "  - index ix still exists",
        "FAIL def456 (c contract) in alembic, change orders: x (+1 more)",
        lines[3],
    ]
    assert lines[3].startswith("verify FAILED: 4 fail (2 revisions, orders: alembic, change;")
