-- expect: none
-- the default fills existing rows at ADD COLUMN (PG 11+, no rewrite): they satisfy the check
ALTER TABLE accounts ADD COLUMN region text DEFAULT 'eu';
ALTER TABLE accounts ADD CONSTRAINT accounts_region_not_null CHECK (region IS NOT NULL) NOT VALID;
