-- Single sign-on: the tenant's identity providers and the external identities linked to its
-- members. An identity is keyed by (provider, subject), never by email alone (ASVS 6.8.1).
CREATE TABLE sso_providers (
    id             UUID PRIMARY KEY,
    -- OpenID Connect, or GitHub (plain OAuth 2.0 read through its API).
    kind           TEXT NOT NULL CHECK (kind IN ('oidc', 'github')),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    -- The OIDC issuer, or GitHub's web base URL (https://github.com or an Enterprise Server).
    issuer         TEXT NOT NULL CHECK (issuer ~ '^https?://'),
    client_id      TEXT NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
    -- AES-256-GCM ciphertext (keyring purpose "sso-secret"), bound to the provider id.
    client_secret  BYTEA NOT NULL,
    secret_key_id  TEXT NOT NULL,
    -- The role of members this provider creates on their first sign-in.
    default_role   TEXT NOT NULL CHECK (default_role IN ('maintainer', 'developer', 'viewer')),
    -- When not empty, only verified emails in these domains may sign in.
    allowed_domains TEXT[] NOT NULL DEFAULT '{}',
    -- Optional: the ID token claim (e.g. "groups") whose values map to roles at every sign-in,
    -- as [{"value": "beacon-admins", "role": "admin"}, …]; the highest matching role wins.
    role_claim     TEXT,
    role_mapping   JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(role_mapping) = 'array'),
    -- GitHub only: members of this organisation only.
    organization   TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE sso_identities (
    provider_id   UUID NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    user_id       UUID NOT NULL,
    email         TEXT NOT NULL,
    linked_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login_at TIMESTAMPTZ,
    PRIMARY KEY (provider_id, subject)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);
