-- expect: add-required-column
ALTER TABLE comments ADD COLUMN author_id bigint NOT NULL REFERENCES users (id);
