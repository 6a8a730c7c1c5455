-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- A daily digest by mail for noisy kinds: the notifications stay in the app as they come, and
-- one mail a day lists those of the kinds a member chose "digest" for.
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_channel_check;
ALTER TABLE notification_preferences
    ADD CONSTRAINT notification_preferences_channel_check CHECK (channel IN ('app', 'email', 'digest', 'off'));

-- When each member's last digest went out (claimed before sending, so one server sends it).
CREATE TABLE notification_digests (
    user_id      UUID PRIMARY KEY,
    last_sent_at TIMESTAMPTZ NOT NULL
);
