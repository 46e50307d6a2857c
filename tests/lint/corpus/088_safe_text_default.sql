-- expect: none
ALTER TABLE tickets ADD COLUMN priority text DEFAULT 'normal';
