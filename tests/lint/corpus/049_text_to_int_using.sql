-- expect: change-column-type
ALTER TABLE products ALTER COLUMN sku TYPE integer USING sku::integer;
