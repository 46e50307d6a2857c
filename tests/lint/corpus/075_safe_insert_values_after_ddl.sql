-- expect: none
ALTER TABLE feature_flags ADD COLUMN description text;
INSERT INTO feature_flags (name, enabled) VALUES ('new_checkout', false);
