-- Every change to a tenant row is announced on the channel each server already listens to,
-- so every server drops its cached copy of the row at once (see app/src/tenancy/cache.rs).
CREATE FUNCTION control.announce_tenant_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('beacon_catalog', 'tenant:' || OLD.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_announce_change AFTER UPDATE OR DELETE ON control.tenants
    FOR EACH ROW EXECUTE FUNCTION control.announce_tenant_change();
