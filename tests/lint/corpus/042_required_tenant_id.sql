-- expect: add-required-column
ALTER TABLE projects ADD COLUMN tenant_id bigint NOT NULL;
