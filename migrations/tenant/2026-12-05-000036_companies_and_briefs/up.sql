-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Company data for competitive briefs (see app/src/briefs): the public facts discovery reads,
-- and apart from them the sensitive fields, sealed with the keyring one field per row.
CREATE TABLE companies (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The name folded for deduplication: lower case, letters and digits only. Not unique: two
    -- companies may share a name when their websites differ.
    name_key     TEXT NOT NULL CHECK (length(name_key) >= 1),
    -- The website's host without `www.`; a second company with the same domain is the same one.
    domain       TEXT UNIQUE,
    website      TEXT,
    one_liner    TEXT,
    description  TEXT,
    industry     TEXT,
    subindustry  TEXT,
    tags         TEXT[] NOT NULL DEFAULT '{}',
    regions      TEXT[] NOT NULL DEFAULT '{}',
    stage        TEXT,
    status       TEXT,
    batch        TEXT,
    team_size    INTEGER CHECK (team_size >= 0),
    is_hiring    BOOLEAN,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by   TEXT NOT NULL
);
CREATE INDEX companies_by_name ON companies (lower(name) text_pattern_ops);
CREATE INDEX companies_by_name_key ON companies (name_key);

-- Funding, revenue, valuation and notes: AES-256-GCM under the keyring key `key_id`, with
-- `company:<id>:<field>` as associated data, so a value moved to another row or field does
-- not open. Never copied into caches, indexes or logs.
CREATE TABLE company_secrets (
    company_id  UUID NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    field       TEXT NOT NULL CHECK (field IN ('funding', 'revenue', 'valuation', 'notes')),
    key_id      TEXT NOT NULL,
    sealed      BYTEA NOT NULL,
    PRIMARY KEY (company_id, field)
);
CREATE INDEX company_secrets_by_key ON company_secrets (key_id);

-- Bumped by every change to the companies: discovery results cached under an older version
-- are never read again.
CREATE TABLE company_data_version (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    version   BIGINT NOT NULL
);
INSERT INTO company_data_version (version) VALUES (1);

-- A brief is also its own job: queued, claimed by one server at a time (`SKIP LOCKED` and a
-- lease), written once when ready. Partitioned by the month it was requested.
CREATE TABLE competitive_briefs (
    id              UUID NOT NULL DEFAULT gen_random_uuid(),
    requested_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    company_id      UUID NOT NULL,
    target_name     TEXT NOT NULL,
    requested_by    UUID,
    requester       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ready', 'failed')),
    progress        SMALLINT NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until     TIMESTAMPTZ,
    error           TEXT,
    data_version    BIGINT,
    threat_score    DOUBLE PRECISION,
    -- The target's summary, the threat's terms, the market map and the narrative.
    content         JSONB,
    pdf             BYTEA,
    generated_at    TIMESTAMPTZ,
    duration_ms     INTEGER,
    PRIMARY KEY (id, requested_at)
) PARTITION BY RANGE (requested_at);
CREATE INDEX competitive_briefs_due ON competitive_briefs (requested_at) WHERE status IN ('queued', 'running');
CREATE INDEX competitive_briefs_by_requester ON competitive_briefs (requested_by, requested_at DESC);

-- The ranked competitors of a brief, each with the contribution of every feature to its score.
CREATE TABLE competitors (
    brief_id       UUID NOT NULL,
    requested_at   TIMESTAMPTZ NOT NULL,
    rank           SMALLINT NOT NULL,
    company_id     UUID NOT NULL,
    name           TEXT NOT NULL,
    -- The competitor's public facts when the brief was generated: a brief does not change
    -- when company data does.
    company        JSONB NOT NULL,
    score          DOUBLE PRECISION NOT NULL,
    momentum       DOUBLE PRECISION NOT NULL,
    contributions  JSONB NOT NULL,
    why            TEXT NOT NULL,
    PRIMARY KEY (brief_id, rank),
    FOREIGN KEY (brief_id, requested_at) REFERENCES competitive_briefs (id, requested_at) ON DELETE CASCADE
);
