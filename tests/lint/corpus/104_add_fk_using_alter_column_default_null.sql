-- expect: none
ALTER TABLE invoices ADD COLUMN account_id bigint DEFAULT NULL REFERENCES accounts (id);
