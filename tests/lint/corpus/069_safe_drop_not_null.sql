-- expect: none
ALTER TABLE users ALTER COLUMN legacy_email DROP NOT NULL;
