-- A revoked key, or one whose scopes or expiry changed, is announced on the channel every
-- server listens to, so each drops its verified copy at once (see app/src/access/verified.rs).
-- Recording a key's use (last_used_at, last_used_ip) is not a change of the key.
CREATE FUNCTION announce_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('beacon_catalog', 'key:' || OLD.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_announce_change AFTER UPDATE OF revoked_at, expires_at, scopes, user_id OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION announce_key_change();
