-- expect: create-index-non-concurrently, backfill-in-ddl-transaction
CREATE INDEX users_status_idx ON users (status);
DELETE FROM users WHERE status = 'spam';
