-- Runs with the tenant's schema alone on the search path: never qualify names here.
-- Every security and data event of the tenant, append-only.
CREATE TABLE audit_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_user_id UUID,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    severity      TEXT NOT NULL CHECK (severity IN ('info', 'notice', 'warning', 'critical')),
    ip            TEXT,
    user_agent    TEXT,
    request_id    TEXT,
    details       JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_recent ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_target ON audit_events (target);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
