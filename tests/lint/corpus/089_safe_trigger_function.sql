-- expect: none
CREATE FUNCTION users_sync_full_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.full_name := NEW.name;
  UPDATE audit SET touched = now() WHERE user_id = NEW.id;
  RETURN NEW;
END $$;
CREATE TRIGGER users_sync_full_name BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_sync_full_name();
