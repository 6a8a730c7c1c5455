-- Free text matches whole words. The trigram index read, for every month, the posting lists of
-- each common trigram of a search word ("ser", "mem", "exa"): about 20 ms a month at 2.5 million
-- events, 80 ms a page at 10 million, however rare the word. A word is one entry of this index,
-- and it is smaller (a word per entry instead of every three letters).
--
-- The words of a text: lower case, split at anything but letters and digits. The query splits
-- its search words with this same function, so both sides agree on what a word is. The cost
-- tells the planner that evaluating it row by row is dear: a word in a few thousand events is
-- found through the index, a word in most events by reading the newest events until a page fills.
CREATE FUNCTION audit_words(text TEXT) RETURNS TEXT[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT COST 5000 AS $$
    SELECT coalesce(array_agg(DISTINCT word) FILTER (WHERE word <> ''), '{}')
    FROM regexp_split_to_table(lower(text), '[^[:alnum:]]+') AS word
$$;
DROP INDEX audit_events_text;
CREATE INDEX audit_events_words ON audit_events
    USING gin (audit_words(actor || ' ' || target || ' ' || coalesce(request_id, '')));
