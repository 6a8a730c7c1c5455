-- Machine access to the tenant's API: personal API keys and OAuth 2.0 clients
-- (client-credentials grant). Only hashes of secrets are stored; the secrets themselves are
-- random 256-bit values, so a single SHA-256 is the right hash (a slow password hash would
-- add nothing and cost a hash per request).
CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- Public lookup id embedded in the key, so authentication is one indexed read.
    prefix       TEXT NOT NULL UNIQUE CHECK (prefix ~ '^[A-Za-z0-9]{12}$'),
    secret_hash  BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    scopes       TEXT[] NOT NULL,
    expires_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    last_used_ip TEXT,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE oauth_clients (
    id            UUID PRIMARY KEY,
    client_id     TEXT NOT NULL UNIQUE CHECK (client_id ~ '^[A-Za-z0-9_-]{8,64}$'),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    secret_hash   BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    scopes        TEXT[] NOT NULL,
    -- The role the client acts with; its scopes narrow it further.
    role          TEXT NOT NULL CHECK (role IN ('maintainer', 'developer', 'viewer')),
    created_by    UUID NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_token_at TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
