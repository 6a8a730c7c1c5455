-- The plans of the catalog's hottest reads, as the bench's HTTP rows send them (the SQL the
-- repository builds, with the bench's values). Run against a tenant the bench kept:
--   psql "$DATABASE_URL" -v schema=tenant_N -f scripts/catalog-plans.sql
SET search_path TO :"schema";
\set columns 'id, entity_ref, kind, namespace, name, etag, document, title, description, owner_ref, spec_type, lifecycle, tags, location_id, parent_ref'

\echo '== by-query kind=component sorted by name, limit 20 (first page)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT :columns FROM entities WHERE lower(kind) = 'component' ORDER BY name, entity_ref LIMIT 21 OFFSET 0;

\echo '== the same, a cursor page further'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT :columns FROM entities WHERE lower(kind) = 'component' ORDER BY name, entity_ref LIMIT 21 OFFSET 20;

\echo '== by-query kind=component, spec.lifecycle=production, relations.ownedBy=group:default/team-7'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT :columns FROM entities
 WHERE lower(kind) = 'component' AND lower(lifecycle) = 'production' AND owner_ref = 'group:default/team-7'
 ORDER BY entity_ref LIMIT 21 OFFSET 0;

\echo '== totals and facets of a query by kind alone (kept counts)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT value, sum(entities)::int8 FROM entity_facet_counts
 WHERE key = 'spec.type' AND kind = ANY ('{component}') GROUP BY value ORDER BY 2 DESC, value LIMIT 1000;

\echo '== by-refs (20 refs) and by-name: entities, then their relations'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT :columns FROM entities
 WHERE entity_ref = ANY (SELECT 'component:default/service-' || (i * 997) FROM generate_series(0, 19) i);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT source_ref, relation, target_ref FROM entity_relations
 WHERE source_ref = ANY (SELECT 'component:default/service-' || (i * 997) FROM generate_series(0, 19) i);

\echo '== full text payment, limit 20'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT :columns FROM entities
 WHERE (search @@ to_tsquery('simple', 'payment:*') OR lower(name) OPERATOR(public.%) 'payment')
 ORDER BY entity_ref LIMIT 21 OFFSET 0;

\echo '== legacy GET /entities kind=api, limit 100'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT :columns FROM entities WHERE lower(kind) = 'api' ORDER BY entity_ref LIMIT 101 OFFSET 0;
