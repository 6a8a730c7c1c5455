DROP TABLE catalog_state;
