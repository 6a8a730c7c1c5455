-- Relations are read by their source only. Every relation is stored with its reverse, so the
-- entities with a relation to a target are found from the target's reverse relation through
-- the source index (app::catalog::relations::reverse_of): the index by (relation, target)
-- was a third B-tree on every one of an import's 7.6 relation rows an entity (1.4 of the
-- 4.5 s their 765,000 rows cost PostgreSQL at 100,000 entities).
DROP INDEX entity_relations_target;
