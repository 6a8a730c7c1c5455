CREATE OR REPLACE FUNCTION audit_month_partition(day TIMESTAMPTZ) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    first_day TIMESTAMPTZ := date_trunc('month', day AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    name      TEXT := 'audit_events_' || to_char(first_day AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
    IF to_regclass(quote_ident(name)) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
                       name, first_day, first_day + interval '1 month');
        EXECUTE format('CREATE TRIGGER audit_events_append_only BEFORE TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()', name);
    END IF;
    RETURN name;
END
$$;
DROP FUNCTION audit_words_index_limit(TEXT);
