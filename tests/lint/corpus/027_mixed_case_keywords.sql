-- expect: add-check-validated, add-foreign-key-validated
Alter Table Shipments Add Constraint shipments_weight_ck Check (weight_grams > 0);
alter table shipments add foreign key (order_id) references orders (id);
