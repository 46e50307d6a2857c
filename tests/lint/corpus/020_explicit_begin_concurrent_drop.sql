-- expect: concurrently-in-transaction
BEGIN;
DROP INDEX CONCURRENTLY IF EXISTS payments_old_idx;
COMMIT;
