-- expect: none
ALTER TABLE users ALTER COLUMN public_id SET DEFAULT gen_random_uuid();
