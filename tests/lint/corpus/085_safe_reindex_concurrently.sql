-- expect: none
-- transaction: none
REINDEX INDEX CONCURRENTLY orders_customer_id_idx;
