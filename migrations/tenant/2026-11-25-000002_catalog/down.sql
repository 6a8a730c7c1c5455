DROP TABLE entity_search;
DROP TABLE entity_relations;
DROP TABLE entities;
