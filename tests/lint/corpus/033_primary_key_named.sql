-- expect: add-primary-key
ALTER TABLE tags ADD CONSTRAINT tags_pkey PRIMARY KEY (tag_id);
