-- expect: none
ALTER TABLE products ALTER COLUMN price TYPE numeric(14,2);
