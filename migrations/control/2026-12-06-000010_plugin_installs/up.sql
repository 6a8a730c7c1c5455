-- Which directory plugins each tenant has installed, kept with every revision, read only as
-- aggregates of at least five tenants ("installed alongside Tech Radar by 7 organisations"),
-- never naming one.
CREATE TABLE control.plugin_installs (
    tenant_id BIGINT NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    PRIMARY KEY (tenant_id, plugin)
);
CREATE INDEX plugin_installs_by_plugin ON control.plugin_installs (plugin, tenant_id);
