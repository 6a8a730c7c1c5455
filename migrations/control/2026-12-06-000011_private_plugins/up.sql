-- A tenant's private directory entries: its own plugins (packages on the registry Beacon reads),
-- in the shared directory tables but seen, installed and recommended only in that tenant.
-- Loading a new bundled directory replaces the public entries only.
ALTER TABLE control.plugins ADD COLUMN owner_tenant BIGINT REFERENCES control.tenants (id) ON DELETE CASCADE;
CREATE INDEX plugins_owner ON control.plugins (owner_tenant) WHERE owner_tenant IS NOT NULL;
ALTER TABLE control.plugins DROP CONSTRAINT plugins_support_check;
ALTER TABLE control.plugins ADD CONSTRAINT plugins_support_check
    CHECK (support IN ('supported', 'tech-preview', 'dev-preview', 'community', 'private'));
