-- Back to one unpartitioned table. Months that were archived stay in their archives.
DROP TABLE audit_archives;
DROP TABLE audit_retention;
ALTER TABLE audit_events RENAME TO audit_events_partitioned;
CREATE TABLE audit_events (LIKE audit_events_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT;
INSERT INTO audit_events SELECT * FROM audit_events_partitioned;
ALTER SEQUENCE audit_event_ids OWNED BY NONE;
DROP TABLE audit_events_partitioned;
ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_event_ids');
ALTER SEQUENCE audit_event_ids OWNED BY audit_events.id;
ALTER TABLE audit_events ADD PRIMARY KEY (id);
DROP FUNCTION audit_ensure_months(TIMESTAMPTZ, TIMESTAMPTZ);
DROP FUNCTION audit_month_partition(TIMESTAMPTZ);
DROP FUNCTION audit_events_no_delete();
DROP FUNCTION audit_restored_read_only();
CREATE INDEX audit_events_recent ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_details ON audit_events USING gin (details jsonb_path_ops);
CREATE INDEX audit_events_by_target ON audit_events (target, occurred_at DESC, id DESC);
CREATE INDEX audit_events_by_action ON audit_events (action, occurred_at DESC, id DESC);
CREATE INDEX audit_events_by_actor ON audit_events (actor, occurred_at DESC, id DESC);
CREATE INDEX audit_events_by_member ON audit_events (actor_user_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_failures ON audit_events (occurred_at DESC, id DESC) WHERE outcome = 'failure';
CREATE INDEX audit_events_by_network ON audit_events USING gist (audit_inet(ip) inet_ops);
CREATE INDEX audit_events_text ON audit_events
    USING gin ((lower(actor || ' ' || target || ' ' || coalesce(request_id, ''))) public.gin_trgm_ops);
CREATE TRIGGER audit_events_append_only BEFORE DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_erasure_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_erasure_only();
CREATE CONSTRAINT TRIGGER audit_events_chain AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_link();
