-- expect: drop-column
DO $$ BEGIN
  EXECUTE 'ALTER TABLE users DROP COLUMN tmp_flag';
END $$;
