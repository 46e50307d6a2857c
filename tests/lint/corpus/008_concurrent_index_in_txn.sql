-- expect: concurrently-in-transaction
-- runner wraps each file in a transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_user_id_idx ON payments (user_id);
