DROP TRIGGER mail_outbox_announce ON mail_outbox;
DROP FUNCTION announce_mail();
DROP TABLE mail_outbox;
DROP TABLE notification_preferences;
DROP TABLE notifications;
DROP TRIGGER events_announce ON events;
DROP FUNCTION announce_event();
DROP TABLE events;
