-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Tamper evidence for the audit log (see app/src/audit/chain.rs for the hashes).
-- Each event the app writes carries:
--   personal_salt    16 random bytes; erasing a person (GDPR) deletes it with their data,
--   personal_digest  SHA-256 over the salt and the fields that can name a person (actor, actor
--                    id, target, address, user agent, details),
--   content_hash     SHA-256 over the other fields and personal_digest.
-- At commit, a deferred trigger appends the event to the tenant's hash chain: position `seq`,
-- chain_hash = SHA-256(previous chain_hash ‖ seq ‖ event id ‖ content_hash). The chain is linked
-- at commit, not at insert, so the one lock it takes (the chain head row) is held for the
-- moment of the commit only, never for the rest of a long import transaction; and its order is
-- commit order, so an event whose transaction commits late still lands after everything
-- already chained. Rows written before this migration have no hashes and stay outside.
ALTER TABLE audit_events
    ADD COLUMN personal_salt BYTEA CHECK (length(personal_salt) = 16),
    ADD COLUMN personal_digest BYTEA CHECK (length(personal_digest) = 32),
    ADD COLUMN content_hash BYTEA CHECK (length(content_hash) = 32);

-- Severity now follows Backstage's auditor: low (reads), medium (writes), high (permission
-- changes), critical (root and security settings); older rows keep the levels they were written with.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_severity_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_severity_check
    CHECK (severity IN ('low', 'medium', 'high', 'critical', 'info', 'notice', 'warning'));

CREATE TABLE audit_chain (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    event_id   BIGINT NOT NULL UNIQUE,
    chain_hash BYTEA NOT NULL CHECK (length(chain_hash) = 32)
);

CREATE TABLE audit_chain_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    seq       BIGINT NOT NULL,
    hash      BYTEA NOT NULL
);
INSERT INTO audit_chain_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

-- The chain head signed with a server key (HMAC-SHA256; the key is never in the database), so
-- a rewritten chain or a removed tail is detectable up to the latest checkpoint.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    chain_hash BYTEA NOT NULL CHECK (length(chain_hash) = 32),
    signed_at  TIMESTAMPTZ NOT NULL,
    key_id     TEXT NOT NULL,
    signature  BYTEA NOT NULL CHECK (length(signature) = 32)
);

CREATE FUNCTION audit_chain_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    linked_seq  BIGINT;
    linked_hash BYTEA;
BEGIN
    IF NEW.content_hash IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE audit_chain_head
       SET seq = seq + 1,
           hash = sha256(hash || int8send(seq + 1) || int8send(NEW.id) || NEW.content_hash)
     RETURNING seq, hash INTO linked_seq, linked_hash;
    INSERT INTO audit_chain (seq, event_id, chain_hash) VALUES (linked_seq, NEW.id, linked_hash);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_events_chain AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_link();

-- The chain and its checkpoints are as append-only as the events.
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The audit page lists newest first under any one filter: each filter column leads an index
-- that ends in the page order, so a filtered page is a range scan, never a sort.
DROP INDEX audit_events_target;
CREATE INDEX audit_events_by_target ON audit_events (target, occurred_at DESC, id DESC);
CREATE INDEX audit_events_by_action ON audit_events (action, occurred_at DESC, id DESC);
CREATE INDEX audit_events_by_actor ON audit_events (actor, occurred_at DESC, id DESC);
CREATE INDEX audit_events_by_member ON audit_events (actor_user_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_failures ON audit_events (occurred_at DESC, id DESC) WHERE outcome = 'failure';
-- The address column as inet for network filters, NULL where it holds anything else: one odd
-- row must never turn a filter into an error.
CREATE FUNCTION audit_inet(address TEXT) RETURNS inet LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN address::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
CREATE INDEX audit_events_by_network ON audit_events USING gist (audit_inet(ip) inet_ops);
-- Free text: actor, target and request id, matched by trigram.
CREATE INDEX audit_events_text ON audit_events
    USING gin ((lower(actor || ' ' || target || ' ' || coalesce(request_id, ''))) public.gin_trgm_ops);
