-- expect: set-not-null
ALTER TABLE orders
  ALTER COLUMN customer_id SET NOT NULL,
  ALTER COLUMN placed_at SET NOT NULL;
