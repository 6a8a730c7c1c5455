-- The plugin directory, shared by every tenant: Backstage releases (which version of each
-- @backstage/* package a release pins), plugins, their npm packages and every known version of
-- each package. Seeded from the bundled directory, enriched from the npm registry.
CREATE TABLE control.backstage_releases (
    version TEXT PRIMARY KEY,
    released_at TIMESTAMPTZ,
    packages JSONB NOT NULL
);

CREATE TABLE control.plugins (
    id TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,99}$'),
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    docs TEXT NOT NULL DEFAULT '',
    categories TEXT[] NOT NULL DEFAULT '{}',
    highlights TEXT[] NOT NULL DEFAULT '{}',
    tags TEXT[] NOT NULL DEFAULT '{}',
    author TEXT,
    support TEXT NOT NULL CHECK (support IN ('supported', 'tech-preview', 'dev-preview', 'community')),
    links JSONB NOT NULL DEFAULT '[]',
    packages TEXT[] NOT NULL,
    collections TEXT[] NOT NULL DEFAULT '{}',
    added_on DATE,
    source TEXT NOT NULL
);

CREATE TABLE control.plugin_packages (
    name TEXT PRIMARY KEY,
    role TEXT,
    latest TEXT,
    config_example JSONB,
    refreshed_at TIMESTAMPTZ,
    refresh_error TEXT
);

CREATE TABLE control.plugin_package_versions (
    package TEXT NOT NULL REFERENCES control.plugin_packages (name) ON DELETE CASCADE,
    version TEXT NOT NULL,
    published_at TIMESTAMPTZ,
    deprecated TEXT,
    dependencies JSONB NOT NULL DEFAULT '{}',
    peer_dependencies JSONB NOT NULL DEFAULT '{}',
    backstage JSONB,
    -- 'inline' (the schema is below), 'file' (a .json in the tarball), 'typescript' (a
    -- config.d.ts only: no schema a validator can use), NULL when the package declares none.
    config_schema_kind TEXT CHECK (config_schema_kind IN ('inline', 'file', 'typescript')),
    config_schema JSONB,
    supported_backstage TEXT,
    integrity TEXT,
    tarball TEXT,
    artifact TEXT,
    PRIMARY KEY (package, version)
);

-- Bumped by every change to the tables above: servers keep the directory in memory and reload
-- it when this moves.
CREATE TABLE control.plugin_directory_version (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    version BIGINT NOT NULL,
    seed_digest TEXT
);
INSERT INTO control.plugin_directory_version (version) VALUES (1);
