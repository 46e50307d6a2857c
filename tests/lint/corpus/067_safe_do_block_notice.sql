-- expect: none
DO $$ BEGIN
  RAISE NOTICE 'DROP TABLE users would be a bad idea';
  PERFORM pg_sleep(0);
END $$;
