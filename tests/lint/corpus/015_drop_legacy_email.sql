-- expect: drop-column
-- users.legacy_email has been replaced by users.email
ALTER TABLE users DROP COLUMN legacy_email;
