-- Every change to a user account or a membership (role, deactivation, removal, a password
-- reset, MFA) is announced on the channel every server listens to, so each drops the API keys
-- of that user it had verified (see app/src/access/verified.rs): the next request looks the
-- owner up again.
CREATE FUNCTION control.announce_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One statement per table: a record's fields are resolved when a statement runs.
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('beacon_catalog', 'user:' || OLD.id);
    ELSE
        PERFORM pg_notify('beacon_catalog', 'user:' || OLD.user_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_announce_change AFTER UPDATE OR DELETE ON control.users
    FOR EACH ROW EXECUTE FUNCTION control.announce_user_change();
CREATE TRIGGER memberships_announce_change AFTER UPDATE OR DELETE ON control.memberships
    FOR EACH ROW EXECUTE FUNCTION control.announce_user_change();
