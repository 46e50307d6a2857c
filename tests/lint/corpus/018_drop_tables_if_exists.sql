-- expect: drop-table
-- cleanup of the v1 audit tables
DROP TABLE IF EXISTS audit_v1, audit_v1_archive CASCADE;
