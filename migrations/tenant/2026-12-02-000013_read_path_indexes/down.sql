CREATE INDEX entity_relations_source ON entity_relations (source_ref, relation);
DROP INDEX entity_relations_source_covering;
CREATE INDEX entities_kind_name ON entities (lower(kind), name);
CREATE INDEX entities_name ON entities (name);
DROP INDEX entities_name_ref;
DROP INDEX entities_kind_name_ref;
