-- expect: backfill-in-ddl-transaction
ALTER TABLE user_roles ADD COLUMN granted_by bigint;
INSERT INTO user_roles (user_id, role, granted_by) SELECT id, 'member', NULL FROM users;
