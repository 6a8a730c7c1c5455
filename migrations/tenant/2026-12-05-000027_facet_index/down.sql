DROP INDEX entities_facets;
