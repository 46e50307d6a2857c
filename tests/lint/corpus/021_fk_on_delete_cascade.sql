-- expect: add-foreign-key-validated
ALTER TABLE line_items
  ADD CONSTRAINT line_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE;
