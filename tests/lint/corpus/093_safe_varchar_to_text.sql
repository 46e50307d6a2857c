-- expect: none
ALTER TABLE users ALTER COLUMN bio TYPE text;
