-- Registered Locations (URLs the catalog reads entities from), the hosts the tenant lets the
-- catalog fetch from, and import jobs with their progress. Runs with the tenant schema alone
-- on the search path.
CREATE TABLE locations (
    id            UUID PRIMARY KEY,
    type          TEXT NOT NULL CHECK (type = 'url'),
    target        TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by    TEXT NOT NULL,
    refreshed_at  TIMESTAMPTZ,
    refresh_error TEXT
);

-- The location whose refresh writes the entity (NULL for pasted, uploaded or edited ones) and
-- the entity that emitted it (a Location entity), for ancestry.
ALTER TABLE entities
    ADD COLUMN location_id UUID REFERENCES locations (id),
    ADD COLUMN parent_ref  TEXT;
CREATE INDEX entities_location ON entities (location_id) WHERE location_id IS NOT NULL;

-- Host patterns (`github.com`, `*.example.com`, optionally `:port`) Locations may be read from.
CREATE TABLE fetch_allowlist (
    pattern    TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by TEXT NOT NULL
);

-- An import running in the background; `processed` advances in the same transaction as each
-- written batch, so the progress shown is exactly what is in the catalog.
CREATE TABLE import_jobs (
    id         UUID PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by TEXT NOT NULL,
    source     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    total      INTEGER NOT NULL,
    processed  INTEGER NOT NULL DEFAULT 0,
    report     JSONB,
    error      TEXT
);
CREATE INDEX import_jobs_recent ON import_jobs (created_at DESC);
