-- expect: drop-column, create-index-non-concurrently, set-not-null
-- release 42: several changes at once
ALTER TABLE invoices DROP COLUMN pdf_blob;
CREATE INDEX invoices_due_idx ON invoices (due_date);
ALTER TABLE invoices ALTER COLUMN due_date SET NOT NULL;
