-- expect: none
CREATE OR REPLACE FUNCTION archive_month(m date) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE format('ALTER TABLE events DETACH PARTITION %I', 'events_' || to_char(m, 'YYYY_MM'));
  DROP TABLE IF EXISTS scratch;
  ALTER TABLE events DROP COLUMN tmp;
END
$fn$;
