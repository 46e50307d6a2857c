-- expect: rename-column
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'invoices' AND column_name = 'amt') THEN
    ALTER TABLE invoices RENAME COLUMN amt TO amount;
  END IF;
END
$$;
