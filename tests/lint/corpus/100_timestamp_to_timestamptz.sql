-- expect: change-column-type
ALTER TABLE events ALTER COLUMN created_at TYPE timestamp;
