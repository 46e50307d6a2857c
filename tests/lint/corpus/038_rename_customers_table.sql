-- expect: rename-table
ALTER TABLE customers RENAME TO clients;
