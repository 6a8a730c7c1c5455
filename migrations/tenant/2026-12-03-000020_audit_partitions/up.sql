-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- The audit log partitioned by month (of `occurred_at`, in UTC), so that a month past the
-- tenant's retention is archived to object storage and then detached and dropped whole, never
-- deleted row by row (see app/src/audit/archive.rs). Months are created ahead of time by
-- `audit_ensure_months` (here for the months that hold rows, and by the server for the
-- current and the next two months): there is no default partition, because a row that lands
-- in one could never be archived with its month.
--
-- The table is rebuilt and its rows copied: identities, hashes and chain positions are kept,
-- and the chain trigger is created after the copy, so nothing is linked twice.
ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;

CREATE SEQUENCE audit_event_ids AS BIGINT;
SELECT setval('audit_event_ids', coalesce(max(id), 0) + 1, false) FROM audit_events_unpartitioned;

CREATE TABLE audit_events (
    id              BIGINT NOT NULL DEFAULT nextval('audit_event_ids'),
    occurred_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_user_id   UUID,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    severity        TEXT NOT NULL
        CHECK (severity IN ('low', 'medium', 'high', 'critical', 'info', 'notice', 'warning')),
    ip              TEXT,
    user_agent      TEXT,
    request_id      TEXT,
    details         JSONB NOT NULL DEFAULT '{}'::jsonb,
    personal_salt   BYTEA CHECK (length(personal_salt) = 16),
    personal_digest BYTEA CHECK (length(personal_digest) = 32),
    content_hash    BYTEA CHECK (length(content_hash) = 32)
) PARTITION BY RANGE (occurred_at);
ALTER SEQUENCE audit_event_ids OWNED BY audit_events.id;

-- The partition of the month that holds `day`, created if missing (with the statement
-- trigger a partition needs of its own: a TRUNCATE of a partition never reaches the parent's).
CREATE FUNCTION audit_month_partition(day TIMESTAMPTZ) RETURNS TEXT LANGUAGE plpgsql AS $$
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

-- Every month from `since` through `through`; archived months are not brought back.
CREATE FUNCTION audit_ensure_months(since TIMESTAMPTZ, through TIMESTAMPTZ) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    first_day TIMESTAMPTZ := date_trunc('month', since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
BEGIN
    WHILE first_day <= through LOOP
        IF NOT EXISTS (SELECT 1 FROM audit_archives a
                        WHERE a.month = (first_day AT TIME ZONE 'UTC')::date AND a.state <> 'writing') THEN
            PERFORM audit_month_partition(first_day);
        END IF;
        first_day := first_day + interval '1 month';
    END LOOP;
END
$$;

-- One row per month that is being or has been archived: `writing` until the archive is in
-- object storage and read back intact; then, in the transaction that drops the month's
-- partition, `archived` with its signed manifest (app/src/audit/archive_file.rs), which is
-- what lets the verifier accept the chain positions the month took away; `restored` while the
-- month is back in a read-only partition for searching. One archiver per tenant at a time
-- (an advisory lock, released by PostgreSQL if the archiver dies).
CREATE TABLE audit_archives (
    month       DATE PRIMARY KEY CHECK (extract(day FROM month) = 1),
    state       TEXT NOT NULL CHECK (state IN ('writing', 'archived', 'restored')),
    started_at  TIMESTAMPTZ NOT NULL,
    archived_at TIMESTAMPTZ,
    restored_at TIMESTAMPTZ,
    manifest    JSONB,
    CHECK ((state = 'writing') = (manifest IS NULL))
);

-- How long events stay in the database before their month is archived.
CREATE TABLE audit_retention (
    singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    hot_days   INTEGER NOT NULL CHECK (hot_days BETWEEN 1 AND 3650),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT NOT NULL
);
INSERT INTO audit_retention (hot_days, updated_by) VALUES (90, 'default');

SELECT audit_ensure_months(coalesce(min(occurred_at), now()), now() + interval '2 months')
  FROM audit_events_unpartitioned;
INSERT INTO audit_events SELECT * FROM audit_events_unpartitioned;
DROP TABLE audit_events_unpartitioned;

ALTER TABLE audit_events ADD PRIMARY KEY (id, occurred_at);
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

-- Append-only as before (see 000011 and 000017): a row-level refusal of deletes reaches every
-- partition, the statement-level one covers TRUNCATE of the whole table, and updates pass only
-- as a GDPR erasure.
CREATE FUNCTION audit_events_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_no_delete();
CREATE TRIGGER audit_events_erasure_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_erasure_only();
CREATE CONSTRAINT TRIGGER audit_events_chain AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_link();

-- A month restored from its archive is for reading: nothing new is written into it.
CREATE FUNCTION audit_restored_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'this month of the audit log was restored from its archive and is read-only';
END
$$;
