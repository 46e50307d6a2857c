-- expect: drop-index-non-concurrently
DROP INDEX orders_legacy_status_idx;
