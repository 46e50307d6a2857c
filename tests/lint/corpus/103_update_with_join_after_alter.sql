-- expect: backfill-in-ddl-transaction
ALTER TABLE orders ADD COLUMN customer_name text;
UPDATE orders o SET customer_name = c.name FROM customers c WHERE c.id = o.customer_id;
