-- expect: add-primary-key
ALTER TABLE event_log ADD PRIMARY KEY (id);
