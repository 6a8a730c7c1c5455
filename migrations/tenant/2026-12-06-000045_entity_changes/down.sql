DROP TRIGGER entities_logged_in ON entities;
DROP TRIGGER entities_logged_out ON entities;
DROP TRIGGER entities_logged_changed ON entities;
DROP FUNCTION entities_log_changes();
DROP TABLE entity_changes;
