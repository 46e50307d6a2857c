-- expect: change-column-type
ALTER TABLE orders ALTER COLUMN status TYPE varchar(10);
