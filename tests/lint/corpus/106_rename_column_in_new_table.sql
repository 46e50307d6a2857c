-- expect: none
CREATE TABLE tmp_users (id int, nm text);
ALTER TABLE tmp_users RENAME COLUMN nm TO name;
