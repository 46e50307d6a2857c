-- expect: none
CREATE TABLE orders_archive (LIKE orders INCLUDING ALL);
CREATE INDEX orders_archive_placed_idx ON orders_archive (placed_at);
