ALTER TABLE control.tenants DROP COLUMN plan;
ALTER TABLE control.users DROP COLUMN password_changed_at, DROP COLUMN must_change_password;
