ALTER TABLE control.tenants DROP COLUMN sso_required;
