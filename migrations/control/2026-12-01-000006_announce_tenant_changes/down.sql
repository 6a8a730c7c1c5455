DROP TRIGGER tenants_announce_change ON control.tenants;
DROP FUNCTION control.announce_tenant_change();
