CREATE INDEX entities_tags ON entities USING gin (tags);

-- Rows written since lack the entries of the paths in columns, which the code before reads.
UPDATE entities
   SET filters = filters
       || ARRAY['kind', 'metadata.name', 'metadata.namespace', 'metadata.uid',
                'kind' || chr(31) || lower(kind), 'metadata.name' || chr(31) || lower(name),
                'metadata.namespace' || chr(31) || lower(namespace), 'metadata.uid' || chr(31) || id::text]
       || CASE WHEN spec_type IS NULL THEN '{}'::text[] ELSE ARRAY['spec.type' || chr(31) || lower(spec_type)] END
       || CASE WHEN lifecycle IS NULL THEN '{}'::text[] ELSE ARRAY['spec.lifecycle' || chr(31) || lower(lifecycle)] END
 WHERE NOT filters @> ARRAY['kind'];

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
