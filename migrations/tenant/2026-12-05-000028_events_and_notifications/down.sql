DROP TABLE notification_preferences;
DROP TABLE notifications;
DROP TRIGGER events_announce ON events;
DROP FUNCTION announce_event();
DROP TABLE events;
