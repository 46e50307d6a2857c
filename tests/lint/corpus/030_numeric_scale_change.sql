-- expect: change-column-type
ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,4);
