-- expect: change-column-type
ALTER TABLE events ALTER COLUMN user_id TYPE bigint;
