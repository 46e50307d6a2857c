-- expect: set-not-null
ALTER TABLE users ALTER COLUMN username SET NOT NULL;
