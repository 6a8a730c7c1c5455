-- An entity's (path, value) pairs move from rows of entity_search into arrays on the entity.
--
-- Each entity had about 20 search rows, and inserting them into the B-tree on (key, value,
-- entity_id) was two thirds of what an import cost PostgreSQL: every row a descent into a
-- 2 GB index at a million entities. A GIN index takes the same entries for a fraction of that:
-- a batch's entries wait in its pending list and are merged into the index sorted, so an
-- entry shared by many entities (`spec.type␟service`) is one posting-list update.
--
-- Entries are the lower-cased path and value joined by the unit separator (chr(31), which
-- the writer keeps out of paths), and the bare path for `$exists` filters:
--   filters         every path and path␟value (case-folded), for filters; GIN-indexed
--   counted_values  path␟Value (case kept) of the paths whose values are counted per kind in
--                   entity_facet_counts (app::catalog::index::is_counted)
--   facet_values    path␟Value (case kept) of every other path, for facets computed on demand
ALTER TABLE entities
    ADD COLUMN filters TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN counted_values TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN facet_values TEXT[] NOT NULL DEFAULT '{}';

UPDATE entities e
   SET filters = s.filters, counted_values = s.counted_values, facet_values = s.facet_values
  FROM (SELECT entity_id,
               coalesce(array_agg(DISTINCT key) FILTER (WHERE key NOT LIKE 'relations.%'), '{}')
                 || coalesce(array_agg(key || chr(31) || value)
                               FILTER (WHERE key NOT LIKE 'relations.%' AND value IS NOT NULL), '{}') AS filters,
               coalesce(array_agg(key || chr(31) || original_value)
                          FILTER (WHERE faceted AND original_value IS NOT NULL), '{}') AS counted_values,
               coalesce(array_agg(key || chr(31) || original_value)
                          FILTER (WHERE NOT faceted AND original_value IS NOT NULL), '{}') AS facet_values
          FROM entity_search
         GROUP BY entity_id) s
 WHERE e.id = s.entity_id;

CREATE INDEX entities_filters ON entities USING gin (filters);
-- Rows that outgrow a page's share are compressed: lz4 is several times faster than the
-- default on writes (PostgreSQL built without it keeps the default).
DO $$
BEGIN
    ALTER TABLE entities ALTER COLUMN filters SET COMPRESSION lz4,
                         ALTER COLUMN counted_values SET COMPRESSION lz4,
                         ALTER COLUMN facet_values SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;

-- The (path, value) of each `path␟value` entry: the path ends at the first separator. A SQL
-- function of one SELECT, so PostgreSQL inlines it where it is used.
CREATE FUNCTION entry_pairs(entries TEXT[]) RETURNS TABLE (key TEXT, value TEXT)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT split_part(v, chr(31), 1), substr(v, strpos(v, chr(31)) + 1) FROM unnest(entries) v $$;

-- Every value of every path with a value, one row each: what facets of uncounted paths, and
-- the few readers that want values rather than entities, group and read.
CREATE VIEW entity_values AS
SELECT e.id AS entity_id, p.key, p.value AS original_value
  FROM entities e, entry_pairs(e.counted_values || e.facet_values) p;

-- The old table goes with its counting triggers; deleting an entity now removes only its
-- relation rows.
DROP TABLE entity_search;
CREATE OR REPLACE FUNCTION entities_drop_index_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM entity_relations WHERE originating_entity_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

-- The kept counts follow the entities' counted values: one statement-level trigger per kind
-- of write sees every row the statement added or removed and applies their counts at once.
--
-- Each batch of an import updates the same hot rows (the kind's count, its types and
-- lifecycles). An update that changes no indexed column stays on its page (a HOT update,
-- no new index entry), so the counts have no index on `entities` (the spent rows are found
-- by key instead) and leave half of each page free for the next versions.
DROP INDEX entity_facet_counts_spent;
ALTER TABLE entity_facet_counts SET (fillfactor = 50);
CREATE OR REPLACE FUNCTION entity_facets_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Every catalog write of a tenant updates catalog_state; taking its row first makes the
    -- writers' count updates one after another, so they cannot deadlock on the counts' rows.
    PERFORM 1 FROM catalog_state FOR UPDATE;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE entity_facet_counts c
           SET entities = c.entities - gone.n
          FROM (SELECT p.key, lower(r.kind) AS kind, p.value, count(*) AS n
                  FROM removed r, entry_pairs(r.counted_values) p
                 GROUP BY 1, 2, 3) gone
         WHERE (c.key, c.kind, c.value) = (gone.key, gone.kind, gone.value);
        DELETE FROM entity_facet_counts c
         USING (SELECT DISTINCT p.key, lower(r.kind) AS kind, p.value
                  FROM removed r, entry_pairs(r.counted_values) p) gone
         WHERE (c.key, c.kind, c.value) = (gone.key, gone.kind, gone.value) AND c.entities = 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO entity_facet_counts AS c (key, kind, value, entities)
        SELECT p.key, lower(a.kind), p.value, count(*)
          FROM added a, entry_pairs(a.counted_values) p
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3
            ON CONFLICT (key, kind, value) DO UPDATE SET entities = c.entities + excluded.entities;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER entities_counted_in AFTER INSERT ON entities
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION entity_facets_count();
CREATE TRIGGER entities_counted_out AFTER DELETE ON entities
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION entity_facets_count();
CREATE TRIGGER entities_counted_changed AFTER UPDATE ON entities
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION entity_facets_count();
