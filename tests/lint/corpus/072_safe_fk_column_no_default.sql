-- expect: none
ALTER TABLE comments ADD COLUMN parent_id bigint REFERENCES comments (id);
