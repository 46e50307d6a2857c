-- expect: add-column-volatile-default
ALTER TABLE tokens ADD COLUMN secret text DEFAULT make_token();
