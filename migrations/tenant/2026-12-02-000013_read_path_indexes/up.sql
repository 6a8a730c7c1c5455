-- Indexes in the exact shape of the catalog's hottest reads.
--
-- Pages sorted by name end with the entity ref as a tie-breaker (every page of a cursor is
-- then well defined). With indexes on exactly that order, a kind's first page is an index
-- range scan that stops after one page, instead of a sort of every entity of the kind.
CREATE INDEX entities_kind_name_ref ON entities (lower(kind), name, entity_ref);
CREATE INDEX entities_name_ref ON entities (name, entity_ref);
DROP INDEX entities_kind_name;
DROP INDEX entities_name;

-- Every served entity carries its relations: with the target in the index they are read
-- from it alone (an index-only scan), not from a heap page per relation.
CREATE INDEX entity_relations_source_covering ON entity_relations (source_ref, relation, target_ref);
DROP INDEX entity_relations_source;
