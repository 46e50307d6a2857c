-- expect: add-check-validated
ALTER TABLE users ADD CHECK (char_length(username) <= 40);
