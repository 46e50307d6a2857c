CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100), name text, age integer, score numeric(10,2),
                    nick varchar(20), CONSTRAINT users_email_not_null CHECK (email IS NOT NULL));
CREATE TABLE orders (id integer, total integer, note varchar(50));
