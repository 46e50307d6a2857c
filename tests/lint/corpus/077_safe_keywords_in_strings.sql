-- expect: none
INSERT INTO migration_notes (note) VALUES ('DROP TABLE sessions; ALTER TABLE users RENAME TO people');
COMMENT ON COLUMN users.email IS 'REINDEX and VACUUM FULL are forbidden here';
