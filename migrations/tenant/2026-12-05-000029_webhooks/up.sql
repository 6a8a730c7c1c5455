-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Outbound webhooks (see app/src/webhooks): admins subscribe a URL to kinds of the tenant's
-- events. A trigger on `events` queues one delivery per subscribed webhook inside the
-- publishing transaction, so an event has its deliveries exactly when it commits, never when
-- it rolls back, and they survive restarts (at least once). The signing secret is sealed with
-- the server's keyring (never stored in clear).
CREATE TABLE webhooks (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    url             TEXT NOT NULL CHECK (length(url) <= 2048),
    kinds           TEXT[] NOT NULL CHECK (cardinality(kinds) >= 1),
    secret          BYTEA NOT NULL,
    secret_key_id   TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    -- Why the portal turned it off (failing for a day); null while on or when an admin did.
    disabled_reason TEXT,
    -- The first failed attempt since the last success.
    failing_since   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by      TEXT NOT NULL
);

-- One event for one webhook. Its id is the `webhook-id` every attempt carries: what receivers
-- de-duplicate by.
CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY,
    webhook_id      UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The bus event (null for a test ping); events are pruned sooner than deliveries.
    event_id        BIGINT,
    kind            TEXT NOT NULL,
    payload         JSONB NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Failed attempts are retried until then (a day; a redelivery starts another day).
    retry_until     TIMESTAMPTZ NOT NULL DEFAULT now() + interval '1 day',
    delivered_at    TIMESTAMPTZ,
    gave_up_at      TIMESTAMPTZ,
    last_status     SMALLINT,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, occurred_at DESC);

-- Every attempt, with what was sent and what the receiver answered (the delivery log).
CREATE TABLE webhook_attempts (
    id              BIGSERIAL PRIMARY KEY,
    delivery_id     UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at    TIMESTAMPTZ NOT NULL,
    request_headers JSONB NOT NULL,
    status          SMALLINT,
    response_body   TEXT,
    error           TEXT,
    duration_ms     INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);

-- Queues the event for every enabled webhook subscribed to its kind, and tells every server's
-- webhook sender at commit that this tenant has deliveries to make.
CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, webhook_id, event_id, kind, payload, occurred_at)
    SELECT gen_random_uuid(), w.id, NEW.id, NEW.kind, NEW.payload, NEW.occurred_at
      FROM webhooks w
     WHERE w.enabled AND NEW.kind = ANY (w.kinds);
    IF FOUND THEN
        PERFORM pg_notify('beacon_webhooks', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_webhooks AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION queue_webhook_deliveries();
