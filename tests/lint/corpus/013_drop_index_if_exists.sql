-- expect: drop-index-non-concurrently
DROP INDEX IF EXISTS public.users_name_idx;
