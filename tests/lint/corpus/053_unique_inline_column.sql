-- expect: add-unique-constraint
ALTER TABLE api_clients ADD COLUMN client_key text UNIQUE;
