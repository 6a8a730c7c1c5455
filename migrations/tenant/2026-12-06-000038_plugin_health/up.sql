-- What each of the tenant's runtimes last reported loading (POST /api/plugins/health), one row
-- per runtime and package: Settings → Plugins compares it with the current revision (drift).
-- A report replaces its runtime's rows; runtimes silent for a day are forgotten.
CREATE TABLE plugin_health (
    instance TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('loaded', 'failed')),
    error TEXT,
    reported_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (instance, package)
);

-- The newest version of each installed package the admins were told is available, so a
-- registry refresh tells them once per version, not at every refresh.
CREATE TABLE plugin_update_notices (
    package TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    noticed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
