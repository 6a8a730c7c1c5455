-- Identity hardening: forced password changes after an admin reset, and the tenant's plan,
-- which sets its API rate-limit tier.
ALTER TABLE control.users
    ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN password_changed_at TIMESTAMPTZ;

ALTER TABLE control.tenants
    ADD COLUMN plan TEXT NOT NULL DEFAULT 'standard' CHECK (plan IN ('standard', 'enterprise'));
