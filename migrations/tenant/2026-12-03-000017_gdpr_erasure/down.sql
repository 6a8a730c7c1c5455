DROP TRIGGER audit_events_erasure_only ON audit_events;
DROP FUNCTION audit_events_erasure_only();
DROP TRIGGER audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
