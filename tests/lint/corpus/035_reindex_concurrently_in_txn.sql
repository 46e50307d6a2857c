-- expect: concurrently-in-transaction
REINDEX INDEX CONCURRENTLY payments_user_id_idx;
