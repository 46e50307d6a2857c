-- expect: none
ALTER TABLE event_log ADD CONSTRAINT event_log_pkey PRIMARY KEY USING INDEX event_log_id_key;
