DROP INDEX audit_events_words;
DROP FUNCTION audit_words(TEXT);
CREATE INDEX audit_events_text ON audit_events
    USING gin ((lower(actor || ' ' || target || ' ' || coalesce(request_id, ''))) public.gin_trgm_ops);
