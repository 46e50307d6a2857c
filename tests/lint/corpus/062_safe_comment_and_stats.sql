-- expect: none
COMMENT ON TABLE orders IS 'customer orders';
ALTER TABLE orders ALTER COLUMN status SET STATISTICS 500;
