-- TOTP second factor per account (the secret is AES-256-GCM ciphertext; the key id names the
-- configured key that sealed it, so keys can rotate), single-use recovery codes (SHA-256 of
-- 120-bit random codes), and each tenant's MFA policy and IP allowlist.
ALTER TABLE control.users
    ADD COLUMN totp_secret BYTEA,
    ADD COLUMN totp_key_id TEXT,
    ADD COLUMN totp_enabled_at TIMESTAMPTZ,
    -- The last accepted time step: a code is accepted once only (replay defence).
    ADD COLUMN totp_last_step BIGINT,
    ADD CONSTRAINT totp_complete CHECK ((totp_secret IS NULL) = (totp_key_id IS NULL)
        AND (totp_secret IS NULL) = (totp_enabled_at IS NULL));

CREATE TABLE control.recovery_codes (
    user_id UUID NOT NULL REFERENCES control.users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

ALTER TABLE control.tenants
    ADD COLUMN mfa_policy TEXT NOT NULL DEFAULT 'off' CHECK (mfa_policy IN ('off', 'admins', 'all')),
    -- [{"cidr": "203.0.113.0/24", "applies_to": "portal" | "api" | "both", "note": "…"}]
    ADD COLUMN ip_allowlist JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ip_allowlist) = 'array');
