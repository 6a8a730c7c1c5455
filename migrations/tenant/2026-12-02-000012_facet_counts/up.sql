-- Facet counts kept exact by the writes themselves, so the first facet or count request after
-- a change reads a few rows instead of grouping every matching entity's search rows.
--
-- Each entity_search row now carries its entity's kind (lower-cased), so a row removed by the
-- cascade of an entity's deletion can still be counted out, and whether it is `faceted`: only
-- the paths facet views ask for, whose values many entities share, are counted (counting names,
-- references to single entities or annotations would double the writes of an import for facets
-- nobody shows); facets of other paths are computed from the rows. The rule lives in
-- `app::catalog::index::is_faceted`; the backfill below applies it as it stood when this
-- migration was written.
ALTER TABLE entity_search ADD COLUMN kind TEXT, ADD COLUMN faceted BOOLEAN;
UPDATE entity_search s
   SET kind = lower(e.kind),
       faceted = s.key IN ('kind', 'metadata.namespace', 'metadata.tags', 'spec.type', 'spec.lifecycle',
                           'spec.owner', 'spec.system', 'spec.domain')
                 OR s.key LIKE 'metadata.labels.%'
  FROM entities e
 WHERE e.id = s.entity_id;
ALTER TABLE entity_search ALTER COLUMN kind SET NOT NULL, ALTER COLUMN faceted SET NOT NULL;

-- Search rows of each entity's own relations (`relations.ownedby` = `group:default/team-a`),
-- as Backstage indexes them: the owner picker asks facets of relations.ownedBy.
INSERT INTO entity_search (entity_id, key, value, original_value, kind, faceted)
SELECT r.originating_entity_id, 'relations.' || lower(r.relation), r.target_ref, r.target_ref, lower(e.kind),
       lower(r.relation) IN ('ownedby', 'partof')
  FROM entity_relations r
  JOIN entities e ON e.id = r.originating_entity_id AND e.entity_ref = r.source_ref;

-- How many search rows of entities of `kind` hold `value` (case kept) at `key`.
CREATE TABLE entity_facet_counts (
    key      TEXT NOT NULL,
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    entities BIGINT NOT NULL CHECK (entities >= 0),
    PRIMARY KEY (key, kind, value)
);
CREATE INDEX entity_facet_counts_spent ON entity_facet_counts (key) WHERE entities = 0;

INSERT INTO entity_facet_counts (key, kind, value, entities)
SELECT key, kind, original_value, count(*)
  FROM entity_search
 WHERE faceted AND original_value IS NOT NULL
 GROUP BY 1, 2, 3;

-- One statement-level trigger per kind of write: it sees all rows the statement added or
-- removed (transition tables) and applies their counts in one upsert, however many rows.
CREATE FUNCTION entity_facets_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Every catalog write of a tenant updates catalog_state; taking its row first makes the
    -- writers' count updates one after another, so they cannot deadlock on the counts' rows.
    PERFORM 1 FROM catalog_state FOR UPDATE;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE entity_facet_counts c
           SET entities = c.entities - gone.n
          FROM (SELECT key, kind, original_value AS value, count(*) AS n
                  FROM removed
                 WHERE faceted AND original_value IS NOT NULL
                 GROUP BY 1, 2, 3) gone
         WHERE (c.key, c.kind, c.value) = (gone.key, gone.kind, gone.value);
        DELETE FROM entity_facet_counts WHERE entities = 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO entity_facet_counts AS c (key, kind, value, entities)
        SELECT key, kind, original_value, count(*)
          FROM added
         WHERE faceted AND original_value IS NOT NULL
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3
            ON CONFLICT (key, kind, value) DO UPDATE SET entities = c.entities + excluded.entities;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER entity_search_counted_in AFTER INSERT ON entity_search
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION entity_facets_count();
CREATE TRIGGER entity_search_counted_out AFTER DELETE ON entity_search
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION entity_facets_count();
CREATE TRIGGER entity_search_counted_changed AFTER UPDATE ON entity_search
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION entity_facets_count();
