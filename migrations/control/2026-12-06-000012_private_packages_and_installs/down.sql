ALTER TABLE control.plugin_packages DROP COLUMN owner_tenant;
