-- expect: none
-- transaction: none
VACUUM (ANALYZE) orders;
