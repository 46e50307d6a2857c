-- expect: set-not-null
ALTER TABLE orders ALTER COLUMN currency SET NOT NULL;
