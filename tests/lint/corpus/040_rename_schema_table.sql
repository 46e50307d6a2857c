-- expect: rename-table
ALTER TABLE billing.invoice_lines RENAME TO invoice_items;
