-- expect: drop-table
DROP TABLE sessions;
