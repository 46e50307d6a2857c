-- expect: none
ALTER TABLE users ALTER COLUMN display_name TYPE varchar(200);
