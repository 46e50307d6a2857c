-- expect: none
ALTER TABLE users ADD COLUMN marketing_opt_in boolean;
COMMIT;
UPDATE users SET marketing_opt_in = false WHERE id BETWEEN 1 AND 10000;
