-- A tenant's private packages are its own: another tenant's entry cannot name them, and the
-- packages a private package names as its plugin's (`backstage.pluginPackages`) are its too.
ALTER TABLE control.plugin_packages ADD COLUMN owner_tenant BIGINT REFERENCES control.tenants (id) ON DELETE CASCADE;
UPDATE control.plugin_packages pk SET owner_tenant = p.owner_tenant
  FROM control.plugins p WHERE p.owner_tenant IS NOT NULL AND pk.name = ANY (p.packages);

-- Which plugins each existing tenant runs, from its current revision: the co-install
-- aggregates count tenants that have not changed their set since control.plugin_installs came.
DO $$
DECLARE t RECORD;
BEGIN
  FOR t IN SELECT id, schema_name FROM control.tenants LOOP
    IF to_regclass(format('%I.plugin_revisions', t.schema_name)) IS NOT NULL THEN
      EXECUTE format(
        'INSERT INTO control.plugin_installs (tenant_id, plugin)
         SELECT DISTINCT %s, p->>''plugin''
           FROM %I.plugin_platform pl
           JOIN %I.plugin_revisions r ON r.number = pl.current_revision,
                jsonb_array_elements(r.packages) p
          WHERE p->>''plugin'' IS NOT NULL AND NOT COALESCE((p->>''disabled'')::boolean, false)
         ON CONFLICT DO NOTHING', t.id, t.schema_name, t.schema_name);
    END IF;
  END LOOP;
END $$;
