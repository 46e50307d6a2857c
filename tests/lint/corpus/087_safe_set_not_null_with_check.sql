-- expect: none
ALTER TABLE accounts ALTER COLUMN owner_id SET NOT NULL;
