-- expect: create-index-non-concurrently
CREATE UNIQUE INDEX users_lower_email_key ON public.users USING btree (lower(email));
