-- A tenant's plugin set. The platform row says which runtime and Backstage release the tenant
-- runs and which revision is current; every change to the set is a new immutable revision
-- holding the whole set, so any two can be compared and any earlier one restored.
CREATE TABLE plugin_platform (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    runtime TEXT NOT NULL CHECK (runtime IN ('backstage', 'rhdh')),
    release TEXT NOT NULL,
    current_revision INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE plugin_revisions (
    number INTEGER PRIMARY KEY CHECK (number > 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    author_id UUID,
    author TEXT NOT NULL,
    operation TEXT NOT NULL,
    reason TEXT NOT NULL,
    runtime TEXT NOT NULL,
    release TEXT NOT NULL,
    -- The revision this one restores (0: the empty set before any change).
    restores INTEGER CHECK (restores >= 0),
    -- [{package, version, plugin, role, disabled, config, integrity}] sorted by package.
    packages JSONB NOT NULL
);
