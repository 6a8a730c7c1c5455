-- The software catalog of one tenant. Runs with the tenant schema alone on the search path.
CREATE TABLE entities (
    id          UUID PRIMARY KEY,
    -- lower-cased kind:namespace/name: uniqueness is case-insensitive, as in Backstage
    entity_ref  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    etag        TEXT NOT NULL,
    body        JSONB NOT NULL,
    -- denormalised for lists, facets and search
    title       TEXT,
    description TEXT,
    owner_ref   TEXT,
    spec_type   TEXT,
    lifecycle   TEXT,
    tags        TEXT[] NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    search      TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
    source      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX entities_kind_ref ON entities (lower(kind), entity_ref);
CREATE INDEX entities_search ON entities USING gin (search);

-- Relations in both directions, owned by the entity whose spec produced them, so that
-- re-ingesting an entity replaces exactly its own rows.
CREATE TABLE entity_relations (
    originating_entity_id UUID NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    source_ref            TEXT NOT NULL,
    relation              TEXT NOT NULL,
    target_ref            TEXT NOT NULL
);
CREATE INDEX entity_relations_source ON entity_relations (source_ref, relation);
CREATE INDEX entity_relations_target ON entity_relations (relation, target_ref);
CREATE INDEX entity_relations_origin ON entity_relations (originating_entity_id);

-- Every (dotted path, value) of every entity, lower-cased: Backstage's filter semantics
-- (`metadata.tags.java`, `spec.type=service`) become indexed lookups.
CREATE TABLE entity_search (
    entity_id      UUID NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    value          TEXT,
    original_value TEXT
);
CREATE INDEX entity_search_key_value ON entity_search (key, value, entity_id);
CREATE INDEX entity_search_entity ON entity_search (entity_id);
