-- A log of which entities each catalog write touched, so a server can bring what it keeps in
-- memory about the catalog (catalog::facet_index) up to date by reading the entities that
-- changed since it last looked, instead of all of them.
--
-- One row per statement that wrote entities (an import batch is one row for its 500
-- entities), numbered in commit order: the number is taken holding catalog_state's row, which
-- every catalog write takes (the counting triggers do) and keeps until it commits, so a write
-- that commits later always has higher numbers. Only the last `log_rows` statements are kept;
-- a reader whose last row is gone reads everything again.
CREATE TABLE entity_changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ids UUID[] NOT NULL
);

CREATE FUNCTION entities_log_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- At 500 entities a statement, more than an import of a million.
    log_rows CONSTANT BIGINT := 10000;
    touched UUID[];
    logged BIGINT;
BEGIN
    CASE TG_OP
        WHEN 'INSERT' THEN SELECT array_agg(id) INTO touched FROM added;
        WHEN 'DELETE' THEN SELECT array_agg(id) INTO touched FROM removed;
        ELSE SELECT array_agg(id) INTO touched FROM (SELECT id FROM added UNION SELECT id FROM removed) both_sides;
    END CASE;
    IF touched IS NOT NULL THEN
        PERFORM 1 FROM catalog_state FOR UPDATE;
        INSERT INTO entity_changes (ids) VALUES (touched) RETURNING seq INTO logged;
        DELETE FROM entity_changes WHERE seq <= logged - log_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER entities_logged_in AFTER INSERT ON entities
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION entities_log_changes();
CREATE TRIGGER entities_logged_out AFTER DELETE ON entities
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION entities_log_changes();
CREATE TRIGGER entities_logged_changed AFTER UPDATE ON entities
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION entities_log_changes();
