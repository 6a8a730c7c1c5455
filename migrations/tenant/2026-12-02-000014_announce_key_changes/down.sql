DROP TRIGGER api_keys_announce_change ON api_keys;
DROP FUNCTION announce_key_change();
