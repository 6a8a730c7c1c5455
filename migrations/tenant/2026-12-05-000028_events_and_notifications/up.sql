-- The tenant's event bus (see app/src/events). A service publishes by inserting a row inside
-- its own transaction; the trigger announces the whole event on the channel every server
-- listens to. PostgreSQL delivers a notification only when its transaction commits, so an
-- event of a rolled-back change is never announced. The rows stay for a short window so a
-- browser that reconnects can ask for what it missed (`id > last seen`).
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL,
    -- Who may see it: members whose role and scopes allow this action, or one person.
    visible_to  TEXT,
    user_id     UUID,
    payload     JSONB NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((visible_to IS NULL) <> (user_id IS NULL)),
    -- The announcement carries the payload and PostgreSQL caps one at 8,000 bytes: events
    -- carry references and short titles, never documents.
    CHECK (octet_length(payload::text) <= 4000)
);
CREATE INDEX events_occurred_at ON events (occurred_at);

CREATE FUNCTION announce_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('beacon_events', json_build_object(
        'schema', TG_TABLE_SCHEMA, 'id', NEW.id, 'kind', NEW.kind, 'visible_to', NEW.visible_to,
        'user_id', NEW.user_id, 'payload', NEW.payload, 'occurred_at', NEW.occurred_at)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_announce AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION announce_event();

-- What the bell counts and the notifications page lists, per member.
CREATE TABLE notifications (
    id         BIGSERIAL PRIMARY KEY,
    user_id    UUID NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    link       TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at    TIMESTAMPTZ
);
CREATE INDEX notifications_by_user ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

-- A member's choice per kind; no row means the kind's default.
CREATE TABLE notification_preferences (
    user_id UUID NOT NULL,
    kind    TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('app', 'email', 'off')),
    PRIMARY KEY (user_id, kind)
);

-- Notifications to be mailed (see app/src/notifications/mail.rs): written in the transaction
-- that made the notification, so a mail exists exactly when its notification does and
-- survives restarts; sent after commit, retried with growing pauses, given up after a day.
CREATE TABLE mail_outbox (
    id              BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    gave_up_at      TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;

-- Every server's mailer hears that this tenant has mail to send.
CREATE FUNCTION announce_mail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('beacon_mail', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

CREATE TRIGGER mail_outbox_announce AFTER INSERT ON mail_outbox FOR EACH STATEMENT EXECUTE FUNCTION announce_mail();
