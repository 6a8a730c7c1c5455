-- An import of 5,000 or more entities ends with ANALYZE (app::catalog::repo::analyze_entities), alone
-- on one core while the import waits: 1.1-1.5 s of an import of 100,000 entities. Half of it
-- went to columns no query filters, joins or sorts on, whose statistics no plan reads: the
-- stored document above all, and the facet values, read only through their entity's id.
ALTER TABLE entities
    ALTER COLUMN etag SET STATISTICS 0,
    ALTER COLUMN description SET STATISTICS 0,
    ALTER COLUMN search_text SET STATISTICS 0,
    ALTER COLUMN source SET STATISTICS 0,
    ALTER COLUMN created_at SET STATISTICS 0,
    ALTER COLUMN content_hash SET STATISTICS 0,
    ALTER COLUMN document SET STATISTICS 0,
    ALTER COLUMN counted_values SET STATISTICS 0,
    ALTER COLUMN facet_values SET STATISTICS 0;

-- An entity's row past 2 KB is compressed column by column, largest first: the document and
-- the entries already with LZ4, the search words and description still with the slower
-- default (pglz, 0.8 % of the machine during an import).
ALTER TABLE entities
    ALTER COLUMN search_text SET COMPRESSION lz4,
    ALTER COLUMN search SET COMPRESSION lz4,
    ALTER COLUMN description SET COMPRESSION lz4,
    ALTER COLUMN tags SET COMPRESSION lz4;
