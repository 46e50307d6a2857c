"""verify end to end on a real PostgreSQL: planted downgrade bugs are caught one by one with the right
message, correct chains (CONCURRENTLY included) pass, lossy / False / empty downgrades are handled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from expandcontract.db.connect import connect
from expandcontract.phases.scaffold import new
from expandcontract.verify import Report, RevisionResult, verify_project
from expandcontract.verify.runner import _is_empty

from .conftest import Chain
from .planted import BASE, BUGS, correct


def leftover_databases(server: str) -> list[str]:
    with connect(server) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ec_verify_%'").fetchall()
    return [r[0] for r in rows]


def run(chain: Chain, server: str, order: str = "alembic", **kw: object) -> Report:
    report = verify_project(chain.config, server_url=server, orders=(order,), **kw)  # type: ignore[arg-type]
    assert not [d for d in leftover_databases(server) if d.startswith(f"ec_verify_{os.getpid()}_")]
    return report


def by_id(report: Report) -> dict[str, RevisionResult]:
    return {r.revision: r for r in report.results}


def test_planted_bugs_are_caught_one_by_one(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    ids = {bug.slug: chain.add(bug.slug, {"expand": (bug.upgrade, bug.downgrade)})["expand"] for bug in BUGS}
    good = chain.add("after-bugs", correct(0))["expand"]
    report = run(chain, pg_server_url)
    results = {r.revision: r for r in report.results}
    assert not report.ok
    for bug in BUGS:
        result = results[ids[bug.slug]]
        assert result.status == "fail", bug.kind
        assert bug.message.format(rev=ids[bug.slug]) in result.differences, (bug.kind, result.differences)
    assert results[good].status == "pass", results[good].differences  # re-cloned after each failure
    assert [r.status for r in report.results].count("fail") == len(BUGS)
    text = report.render_text()
    first = BUGS[0].message.format(rev=ids[BUGS[0].slug])
    assert text.splitlines()[1] == f"  - {first}"


def test_correct_chain_passes_in_every_order(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    for i in (0, 1, 2, 3, 5):
        chain.add(f"change-{i}", correct(i))
    report = verify_project(chain.config, server_url=pg_server_url)
    assert report.ok, report.render_text()
    assert {r.status for r in report.results} == {"pass"}
    same = [n for n in report.notes if "order is the same as" in n]
    assert len(report.orders) + len(same) == 3
    assert "release" in report.orders
    assert len(report.results) == 10 * len(report.orders)
    release = [r.phase for r in report.results if r.order == "release"]
    assert release == ["expand"] * 6 + ["migrate"] * 2 + ["contract"] * 2
    change = [r.change for r in report.results if r.order == "change"] or [
        r.change for r in report.results if r.order == "alembic"
    ]
    assert change[2:5] == ["change-1"] * 3


def test_concurrently_revisions_pass(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    rev = chain.add("mood-index", correct(2))["expand"]
    assert (
        "postgresql_concurrently=True"
        in chain.root.joinpath(next(p for p in chain.root.rglob(f"*{rev}*.py"))).read_text()
    )
    report = run(chain, pg_server_url)
    assert report.ok, report.render_text()


def test_concurrently_index_left_behind_is_caught(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    up = (
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_c', 'users', ['email'], postgresql_concurrently=True)"
    )
    rev = chain.add("conc", {"expand": (up, "op.execute('SELECT 1')")})["expand"]
    report = run(chain, pg_server_url)
    assert f"index ix_c still exists after downgrade of {rev}" in report.results[1].differences


def test_lossy_reports_data_loss_but_passes(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    rev = chain.add(
        "widen",
        {
            "expand": (
                "op.alter_column('users', 'name', type_=sa.Text(), existing_type=sa.String(40))",
                "op.execute('ALTER TABLE users ALTER COLUMN name TYPE varchar(40) USING left(name, 2)')",
                "ec_reversible = 'lossy'\nec_reason = 'long names are cut to 2 characters'",
            )
        },
    )["expand"]
    report = run(chain, pg_server_url)
    result = report.results[1]
    assert report.ok
    assert result.status == "lossy"
    assert any(n.startswith(f"column users.name: values changed by the downgrade of {rev}") for n in result.notes)


def test_lossy_still_needs_the_schema_to_round_trip(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    rev = chain.add(
        "ix",
        {"expand": ("op.create_index('ix_n', 'users', ['name'])", "op.execute('SELECT 1')", "ec_reversible = 'lossy'")},
    )["expand"]
    report = run(chain, pg_server_url)
    assert report.results[1].status == "fail"
    assert f"index ix_n still exists after downgrade of {rev}" in report.results[1].differences


def test_irreversible_is_skipped_with_a_note_and_its_downgrade_never_runs(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    chain.add(
        "drop-name",
        {
            "expand": (
                "op.drop_column('users', 'name')",
                "raise RuntimeError('must not run')",
                "ec_reversible = False\nec_reason = 'names are gone for good'",
            )
        },
    )
    after = chain.add("after", correct(0))["expand"]
    report = run(chain, pg_server_url)
    assert report.ok
    skipped = report.results[1]
    assert skipped.status == "skipped"
    assert skipped.notes == ["ec_reversible = False: names are gone for good; upgraded without checking the downgrade"]
    assert by_id(report)[after].status == "pass"


def test_empty_downgrade_fails_when_upgrade_is_not_empty(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    fresh = new(chain.config, "fresh change", "fresh")  # untouched: pass / pass in all three phases
    empty = chain.add("empty", {"expand": ("op.add_column('users', sa.Column('x', sa.Text()))", "pass")})["expand"]
    nie = chain.add(
        "nie", {"expand": ("op.add_column('users', sa.Column('y', sa.Text()))", "raise NotImplementedError")}
    )["expand"]
    report = run(chain, pg_server_url)
    results = by_id(report)
    for made in fresh:
        assert results[made.revision].status == "pass"
    e = results[empty]
    assert e.status == "fail"
    assert e.differences[0].startswith(f"downgrade() of {empty} is empty but upgrade() is not")
    assert f"column users.x still exists after downgrade of {empty}" in e.differences
    n = results[nie]
    assert n.status == "fail"
    assert n.differences == [
        f"downgrade() of {nie} raises NotImplementedError: write the downgrade, "
        "or declare ec_reversible = False with ec_reason"
    ]


def test_failing_upgrade_blocks_what_needs_it(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    ids = chain.add(
        "broken",
        {"expand": ("op.execute('ALTER TABLE nope ADD COLUMN x int')", "pass"), "migrate": ("pass", "pass")},
    )
    report = run(chain, pg_server_url)
    results = by_id(report)
    assert results[ids["expand"]].status == "fail"
    assert 'relation "nope" does not exist' in results[ids["expand"]].differences[0]
    assert results[ids["migrate"]].status == "not-run"


def test_sample_rows_respect_foreign_keys_and_checks(chain: Chain, pg_server_url: str) -> None:
    """Data is checked in child tables too: a downgrade that deletes their rows is caught."""
    chain.add("users", {"expand": BASE})
    chain.add("child", correct(0))
    rev = chain.add(
        "purge",
        {
            "expand": (
                "op.add_column('t0', sa.Column('kind', sa.Text()))\n"
                "op.create_check_constraint('t0_kind', 't0', \"kind IN ('a', 'b')\")",
                "op.execute('DELETE FROM t0')\nop.drop_column('t0', 'kind')",
            )
        },
    )["expand"]
    report = run(chain, pg_server_url)
    result = report.results[2]
    assert result.status == "fail"
    lost = [
        d for d in result.differences if d == f"table t0: 0 of 3 sample rows left after downgrade of {rev} (rows lost)"
    ]
    assert lost, result.differences


def test_rows_the_migration_itself_adds_and_removes_are_not_data_loss(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    chain.add(
        "seed",
        {
            "expand": (
                "op.execute(\"INSERT INTO users (email, name) VALUES ('admin@example.com', 'admin')\")",
                "op.execute(\"DELETE FROM users WHERE email = 'admin@example.com'\")",
            )
        },
    )
    report = run(chain, pg_server_url)
    assert report.ok, report.render_text()


def test_embedded_default_ignores_database_url(chain: Chain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No --database-url: the embedded scratch server under the project's data dir; DATABASE_URL unused."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:1/app")
    chain.add("users", {"expand": BASE})
    chain.add("ix", {"expand": (BUGS[0].upgrade, BUGS[0].downgrade)})
    report = verify_project(chain.config, orders=("alembic",))
    assert [r.status for r in report.results] == ["pass", "fail"], report.render_text()
    assert "embedded PostgreSQL" in report.server
    from expandcontract.db import embedded
    from expandcontract.verify.scratch import embedded_dir

    assert not embedded.status(embedded_dir(chain.config)).running  # we started it, we stopped it


def test_ctrl_c_drops_the_scratch_databases(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    chain.add("more", correct(0))
    seen: list[str] = []

    def interrupt(line: str) -> None:
        seen.extend(d for d in leftover_databases(pg_server_url) if d not in seen)
        if line.startswith("[1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        verify_project(chain.config, server_url=pg_server_url, progress=interrupt)
    assert seen  # databases existed while it ran
    assert not set(seen) & set(leftover_databases(pg_server_url))


def test_is_empty() -> None:
    def a() -> None:
        """doc"""
        # TODO
        pass

    def b() -> None:
        raise NotImplementedError

    assert _is_empty(a)
    assert not _is_empty(b)
