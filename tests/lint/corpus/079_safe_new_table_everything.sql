-- expect: none
CREATE TABLE invoices_v2 (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric(12,2));
CREATE INDEX invoices_v2_customer_idx ON invoices_v2 (customer_id);
ALTER TABLE invoices_v2 ADD CONSTRAINT invoices_v2_total_ck CHECK (total >= 0);
ALTER TABLE invoices_v2 ADD COLUMN note text NOT NULL;
ALTER TABLE invoices_v2 ADD CONSTRAINT invoices_v2_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
