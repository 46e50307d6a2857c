-- expect: drop-table, rename-column
DROP TABLE tmp_import; ALTER TABLE users RENAME COLUMN phone TO phone_number;
