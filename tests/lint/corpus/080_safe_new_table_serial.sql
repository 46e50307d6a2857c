-- expect: none
CREATE TABLE webhooks (id bigserial PRIMARY KEY, url text NOT NULL, secret uuid DEFAULT gen_random_uuid());
CREATE UNIQUE INDEX webhooks_url_key ON webhooks (url);
