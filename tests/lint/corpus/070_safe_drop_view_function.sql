-- expect: none
DROP VIEW IF EXISTS legacy_report;
DROP FUNCTION IF EXISTS legacy_sync();
DROP TRIGGER IF EXISTS legacy_sync ON users;
