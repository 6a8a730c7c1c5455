DROP TABLE notification_digests;
DELETE FROM notification_preferences WHERE channel = 'digest';
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_channel_check;
ALTER TABLE notification_preferences
    ADD CONSTRAINT notification_preferences_channel_check CHECK (channel IN ('app', 'email', 'off'));
