-- Lighter filter entries (an import of 100,000 entities spent a third of PostgreSQL's time in
-- the index inserts of `entities`, half of that in the filters' GIN index).
--
-- 1. The writer no longer puts in `filters` the entries of paths whose values are in columns
--    (kind, metadata.name, metadata.namespace, metadata.uid; the values of spec.type and
--    spec.lifecycle): filters on them read the columns (app::catalog::index::ALWAYS_PRESENT).
--    Rows written before keep those entries; nothing reads them, so they are left as they are
--    rather than rewriting every row.
--
-- 2. Tag filters read the filters' GIN index like any other path (`metadata.tags␟java`), so
--    the tags' own GIN index, which every insert also paid for, goes.
DROP INDEX entities_tags;

-- 3. The counting trigger counts an insert's values before it takes the catalog lock, and no
--    longer sorts them: only the upsert of the counts waits its turn. The catalog_state row
--    it takes first already makes the writers' count updates one after another, so they
--    cannot deadlock. (Aggregating and sorting the ~2,000 counts of 500 components was a
--    third of the trigger, inside the section where the tenant's writers take turns.)
CREATE OR REPLACE FUNCTION entity_facets_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added_keys TEXT[];
    added_kinds TEXT[];
    added_values TEXT[];
    added_counts BIGINT[];
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT array_agg(key), array_agg(kind), array_agg(value), array_agg(n)
          INTO added_keys, added_kinds, added_values, added_counts
          FROM (SELECT p.key, lower(a.kind) AS kind, p.value, count(*) AS n
                  FROM added a, entry_pairs(a.counted_values) p
                 GROUP BY 1, 2, 3) counted;
    END IF;
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
    IF added_keys IS NOT NULL THEN
        INSERT INTO entity_facet_counts AS c (key, kind, value, entities)
        SELECT * FROM unnest(added_keys, added_kinds, added_values, added_counts)
            ON CONFLICT (key, kind, value) DO UPDATE SET entities = c.entities + excluded.entities;
    END IF;
    RETURN NULL;
END $$;
