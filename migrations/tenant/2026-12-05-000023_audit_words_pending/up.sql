-- Free text reads the word index of every month it searches, and GIN keeps recent insertions in
-- an unsorted pending list that each search reads in full: up to 4 MB a month by default. Right
-- after a bulk load of 1 million events a rare word took 20 ms a page; once the lists were merged,
-- 1.2 ms. A 256 kB list keeps most of the batching for writes and bounds what a search reads.
-- The option cannot be set on the partitioned index itself, so it is set on each month's.
CREATE FUNCTION audit_words_index_limit(month TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    words_index REGCLASS;
BEGIN
    SELECT i.inhrelid::regclass INTO words_index
      FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
     WHERE i.inhparent = to_regclass('audit_events_words') AND x.indrelid = month::regclass;
    IF words_index IS NOT NULL THEN
        EXECUTE format('ALTER INDEX %s SET (gin_pending_list_limit = 256)', words_index);
    END IF;
END
$$;

SELECT audit_words_index_limit(inhrelid::regclass::text)
  FROM pg_inherits WHERE inhparent = 'audit_events'::regclass;

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
        PERFORM audit_words_index_limit(quote_ident(name));
    END IF;
    RETURN name;
END
$$;
