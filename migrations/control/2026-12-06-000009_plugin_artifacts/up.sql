-- Package tarballs Beacon fetched from the npm registry, checked against their published SRI
-- integrity and inspected as RHDH's installer would, stored once by that integrity and shared
-- by every tenant whose plugin set holds them (the tenant npm endpoint serves these bytes).
CREATE TABLE plugin_artifacts (
    integrity TEXT PRIMARY KEY,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    files INTEGER NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
