-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- CI/CD events received from GitHub, Jenkins and Argo CD (see app/src/deployments), matched
-- to catalog entities by their annotations.

-- One per provider the tenant has set up: the secret its requests are checked with, sealed
-- with the server's keyring, and how many were received or refused.
CREATE TABLE cicd_integrations (
    provider         TEXT PRIMARY KEY CHECK (provider IN ('github', 'jenkins', 'argocd')),
    secret           BYTEA NOT NULL,
    secret_key_id    TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by       TEXT NOT NULL,
    received         BIGINT NOT NULL DEFAULT 0,
    refused          BIGINT NOT NULL DEFAULT 0,
    last_received_at TIMESTAMPTZ,
    last_refused_at  TIMESTAMPTZ
);

-- The deliveries already taken, so a provider's retry (same delivery id) changes nothing.
CREATE TABLE cicd_deliveries (
    provider    TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, delivery_id)
);
CREATE INDEX cicd_deliveries_received ON cicd_deliveries (received_at);

-- A build or a deployment, as the latest event about it says. `entity_refs` are the entities
-- whose annotation `annotation` has the value `project`; none: kept as unmatched.
CREATE TABLE deployments (
    id          BIGSERIAL PRIMARY KEY,
    provider    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('build', 'deployment')),
    annotation  TEXT NOT NULL,
    project     TEXT NOT NULL,
    entity_refs TEXT[] NOT NULL DEFAULT '{}',
    name        TEXT,
    environment TEXT,
    version     TEXT,
    commit_sha  TEXT,
    -- When the deployed commit was made, when a payload says (lead time for changes).
    commit_at   TIMESTAMPTZ,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'in_progress', 'success', 'failure', 'cancelled')),
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    url         TEXT,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider, external_id)
);
CREATE INDEX deployments_entities ON deployments USING gin (entity_refs);
CREATE INDEX deployments_unmatched ON deployments (updated_at DESC) WHERE cardinality(entity_refs) = 0;
CREATE INDEX deployments_failed ON deployments (finished_at DESC) WHERE status = 'failure';
CREATE INDEX deployments_commits ON deployments (commit_sha) WHERE commit_at IS NOT NULL;
