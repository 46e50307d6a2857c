-- expect: add-check-validated
-- PostgreSQL verifies the new column's CHECK against every existing row (a full scan), default or not
ALTER TABLE users ADD COLUMN age_years integer CHECK (age_years >= 0);
