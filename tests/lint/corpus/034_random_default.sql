-- expect: add-column-volatile-default
ALTER TABLE experiments ADD COLUMN bucket integer DEFAULT floor(random() * 100)::int;
