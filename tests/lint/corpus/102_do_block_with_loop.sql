-- expect: create-index-non-concurrently
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT 1 LOOP
    CREATE INDEX IF NOT EXISTS users_created_idx ON users (created_at);
  END LOOP;
END $$;
