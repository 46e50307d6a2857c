-- expect: none
-- Do not DROP TABLE users here; ALTER TABLE users DROP COLUMN email comes in the contract.
/* CREATE INDEX orders_idx ON orders (id); */
ALTER TABLE users ADD COLUMN email_normalized text;
