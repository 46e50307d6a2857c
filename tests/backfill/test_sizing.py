"""Batch sizing is a pure function of the last batch: aim at the target, cut hard when far over."""

from __future__ import annotations

from expandcontract.backfill.sizing import Limits, after_timeout, next_size, table_cap

L = Limits(target_s=0.1, min_size=10, max_size=100_000)


def test_aims_at_the_target_time() -> None:
    assert next_size(1000, 0.2, L) == 475  # twice too slow -> about half (5% under the target)
    assert 900 <= next_size(1000, 0.1, L) <= 1000


def test_grows_at_most_twofold() -> None:
    assert next_size(1000, 0.001, L) == 2000
    assert next_size(1000, 0.0, L) == 2000


def test_over_five_times_the_target_cuts_to_a_tenth() -> None:
    assert next_size(10_000, 0.51, L) == 1000


def test_statement_timeout_is_ten_times_the_target_and_halves() -> None:
    assert L.statement_timeout_ms == 1000
    assert after_timeout(1000, L) == 500


def test_clamped_to_limits() -> None:
    assert next_size(12, 10.0, L) == 10
    assert next_size(90_000, 0.001, L) == 100_000
    assert after_timeout(15, L) == 10


def test_a_batch_locks_at_most_a_fraction_of_the_table() -> None:
    assert table_cap(100_000, 10, 0.01, 1_000_000) == 10_000
    assert table_cap(100_000, 10, 0.01, 500_000_000) == 100_000  # big tables: the time target decides
    assert table_cap(100_000, 10, 0.01, 200) == 10
    assert table_cap(100_000, 10, 0.01, -1) == 100_000  # never analyzed: no estimate, no cap
    assert table_cap(100_000, 10, 0.0, 1_000_000) == 100_000  # switched off
