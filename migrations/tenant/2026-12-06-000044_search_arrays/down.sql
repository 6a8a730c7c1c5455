DROP TRIGGER entities_counted_in ON entities;
DROP TRIGGER entities_counted_out ON entities;
DROP TRIGGER entities_counted_changed ON entities;

CREATE TABLE entity_search (
    entity_id      UUID NOT NULL,
    key            TEXT NOT NULL,
    value          TEXT,
    original_value TEXT,
    kind           TEXT NOT NULL,
    faceted        BOOLEAN NOT NULL
);
INSERT INTO entity_search (entity_id, key, value, original_value, kind, faceted)
SELECT e.id, pairs.key, lower(pairs.value), pairs.value, lower(e.kind), counted
  FROM entities e,
       LATERAL (SELECT p.*, true AS counted FROM entry_pairs(e.counted_values) p
                UNION ALL SELECT p.*, false FROM entry_pairs(e.facet_values) p) pairs;
-- Paths without a value (a null) had a row of their own.
INSERT INTO entity_search (entity_id, key, kind, faceted)
SELECT e.id, k, lower(e.kind), false
  FROM entities e, unnest(e.filters) k
 WHERE strpos(k, chr(31)) = 0
   AND NOT EXISTS (SELECT 1 FROM entry_pairs(e.counted_values || e.facet_values) p WHERE p.key = k);
CREATE INDEX entity_search_key_value ON entity_search (key, value, entity_id);
CREATE INDEX entity_search_entity ON entity_search (entity_id);

CREATE OR REPLACE FUNCTION entities_drop_index_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM entity_relations WHERE originating_entity_id IN (SELECT id FROM gone);
    DELETE FROM entity_search WHERE entity_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION entity_facets_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

ALTER TABLE entity_facet_counts RESET (fillfactor);
CREATE INDEX entity_facet_counts_spent ON entity_facet_counts (key) WHERE entities = 0;
DROP VIEW entity_values;
DROP FUNCTION entry_pairs(TEXT[]);
DROP INDEX entities_filters;
ALTER TABLE entities DROP COLUMN filters, DROP COLUMN counted_values, DROP COLUMN facet_values;
