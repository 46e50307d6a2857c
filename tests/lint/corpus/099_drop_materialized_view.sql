-- expect: none
DROP MATERIALIZED VIEW IF EXISTS sales_summary;
