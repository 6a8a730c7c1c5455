ALTER TABLE control.tenants DROP COLUMN ip_allowlist, DROP COLUMN mfa_policy;
DROP TABLE control.recovery_codes;
ALTER TABLE control.users
    DROP CONSTRAINT totp_complete,
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_enabled_at,
    DROP COLUMN totp_key_id,
    DROP COLUMN totp_secret;
