ALTER TABLE entities DROP COLUMN content_hash;
INSERT INTO entity_search (entity_id, key, value, original_value, kind, faceted)
SELECT r.originating_entity_id, 'relations.' || lower(r.relation), r.target_ref, r.target_ref, lower(e.kind), false
  FROM entity_relations r
  JOIN entities e ON e.id = r.originating_entity_id AND e.entity_ref = r.source_ref
 WHERE lower(r.relation) NOT IN ('ownedby', 'partof');
DROP TRIGGER entities_deleted ON entities;
DROP FUNCTION entities_drop_index_rows();
ALTER TABLE entity_relations ADD CONSTRAINT entity_relations_originating_entity_id_fkey
    FOREIGN KEY (originating_entity_id) REFERENCES entities (id) ON DELETE CASCADE;
ALTER TABLE entity_search ADD CONSTRAINT entity_search_entity_id_fkey
    FOREIGN KEY (entity_id) REFERENCES entities (id) ON DELETE CASCADE;
