-- expect: reindex-non-concurrently
REINDEX TABLE orders;
