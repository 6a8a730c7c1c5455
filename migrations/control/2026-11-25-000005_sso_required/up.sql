-- "Single sign-on required": members other than admins may not sign in with a password.
ALTER TABLE control.tenants ADD COLUMN sso_required BOOLEAN NOT NULL DEFAULT false;
