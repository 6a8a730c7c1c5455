-- Lighter catalog writes (ingest of 100k entities was bound by PostgreSQL's CPU).
--
-- 1. Search and relation rows were tied to their entity by foreign keys: every inserted row
--    paid a row-level check that looked the entity up (about 35 per component). Only the
--    catalog's writer inserts these rows, in the transaction that writes the entity itself, so
--    the check never failed; deleting an entity now removes its rows by one statement-level
--    trigger per deleting statement instead of the per-row cascade.
ALTER TABLE entity_search DROP CONSTRAINT entity_search_entity_id_fkey;
ALTER TABLE entity_relations DROP CONSTRAINT entity_relations_originating_entity_id_fkey;

CREATE FUNCTION entities_drop_index_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM entity_relations WHERE originating_entity_id IN (SELECT id FROM gone);
    DELETE FROM entity_search WHERE entity_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;

CREATE TRIGGER entities_deleted AFTER DELETE ON entities
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION entities_drop_index_rows();

-- 2. Filters and facets of a relation are answered from entity_relations (which also holds the
--    relations other entities point at this one, as Backstage's stitched entities do); search
--    rows are kept only for the relations whose values are counted (app::catalog::index::is_faceted).
DELETE FROM entity_search WHERE key LIKE 'relations.%' AND NOT faceted;

-- 3. A re-import recognises an unchanged entity by a hash of its stored document instead of
--    reading the document back (SHA-256 of the JSON the writer stored, app::catalog::service::
--    content_hash). Rows written before this migration have none and are compared by document.
ALTER TABLE entities ADD COLUMN content_hash BYTEA;
