DROP INDEX audit_events_by_network;
DROP FUNCTION audit_inet(TEXT);
DROP INDEX audit_events_text;
DROP INDEX audit_events_failures;
DROP INDEX audit_events_by_member;
DROP INDEX audit_events_by_actor;
DROP INDEX audit_events_by_action;
DROP INDEX audit_events_by_target;
CREATE INDEX audit_events_target ON audit_events (target);
DROP TRIGGER audit_events_chain ON audit_events;
DROP FUNCTION audit_chain_link();
DROP TABLE audit_checkpoints;
DROP TABLE audit_chain_head;
DROP TABLE audit_chain;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_severity_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_severity_check
    CHECK (severity IN ('info', 'notice', 'warning', 'critical'));
ALTER TABLE audit_events DROP COLUMN content_hash, DROP COLUMN personal_digest, DROP COLUMN personal_salt;
