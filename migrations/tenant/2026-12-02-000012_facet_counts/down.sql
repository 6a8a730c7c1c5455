DROP TRIGGER entity_search_counted_changed ON entity_search;
DROP TRIGGER entity_search_counted_out ON entity_search;
DROP TRIGGER entity_search_counted_in ON entity_search;
DROP FUNCTION entity_facets_count();
DROP TABLE entity_facet_counts;
DELETE FROM entity_search WHERE key LIKE 'relations.%';
ALTER TABLE entity_search DROP COLUMN faceted, DROP COLUMN kind;
