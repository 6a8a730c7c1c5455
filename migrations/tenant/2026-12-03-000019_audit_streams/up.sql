-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Destinations the tenant's audit events are streamed to (a SIEM's webhook). Each reads the
-- hash chain in order: `delivered_seq` is the last chain position the destination confirmed,
-- so delivery follows commit order and nothing committed late is skipped. At least once: a
-- batch sent but not confirmed (a crash, a timeout) is sent again; receivers de-duplicate by
-- event id. The signing secret is sealed with the server's keyring (never stored in clear).
CREATE TABLE audit_destinations (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    url             TEXT NOT NULL CHECK (length(url) <= 2048),
    secret          BYTEA NOT NULL,
    secret_key_id   TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by      TEXT NOT NULL,
    delivered_seq   BIGINT NOT NULL CHECK (delivered_seq >= 0),
    failures        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Whoever is delivering holds the destination until then (one sender across app servers).
    leased_until    TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_error      TEXT
);

-- Every attempt: which positions it carried, what the receiver answered.
CREATE TABLE audit_deliveries (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination_id UUID NOT NULL REFERENCES audit_destinations (id) ON DELETE CASCADE,
    delivery_id    UUID NOT NULL,
    attempted_at   TIMESTAMPTZ NOT NULL,
    first_seq      BIGINT NOT NULL,
    last_seq       BIGINT NOT NULL,
    events         INTEGER NOT NULL,
    status         SMALLINT,
    error          TEXT,
    duration_ms    INTEGER NOT NULL
);
CREATE INDEX audit_deliveries_recent ON audit_deliveries (destination_id, attempted_at DESC);
