-- expect: add-column-volatile-default, set-not-null
ALTER TABLE sessions
  ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid(),
  ALTER COLUMN user_id SET NOT NULL;
