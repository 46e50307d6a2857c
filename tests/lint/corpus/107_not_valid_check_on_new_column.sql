-- expect: not-valid-check-before-backfill
-- the new column is NULL in every existing row: the NOT VALID check fails each UPDATE of them
ALTER TABLE accounts ADD COLUMN region text;
ALTER TABLE accounts ALTER COLUMN region SET DEFAULT 'eu';
ALTER TABLE accounts ADD CONSTRAINT accounts_region_not_null CHECK (region IS NOT NULL) NOT VALID;
