-- A counter bumped by every catalog write: caches of counts and facets are valid for exactly
-- one version, whichever server instance computed them.
CREATE TABLE catalog_state (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    version   BIGINT NOT NULL
);
INSERT INTO catalog_state (singleton, version) VALUES (TRUE, 0);
