-- Indexes for the filters and facets the portal uses most, served from the denormalised
-- columns instead of the generic (path, value) index.
CREATE INDEX entities_kind_name ON entities (lower(kind), name);
CREATE INDEX entities_name ON entities (name);
CREATE INDEX entities_type ON entities (lower(spec_type));
CREATE INDEX entities_lifecycle ON entities (lower(lifecycle));
CREATE INDEX entities_owner ON entities (owner_ref);
CREATE INDEX entities_tags ON entities USING gin (tags);
