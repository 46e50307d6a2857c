-- expect: add-serial-column
ALTER TABLE events ADD COLUMN seq bigserial;
