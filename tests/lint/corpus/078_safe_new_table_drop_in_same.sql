-- expect: none
CREATE TABLE import_staging (id int, payload jsonb);
ALTER TABLE import_staging DROP COLUMN payload;
DROP TABLE import_staging;
