-- expect: none
ALTER TABLE users ADD COLUMN age_years integer CHECK (age_years >= 0);
