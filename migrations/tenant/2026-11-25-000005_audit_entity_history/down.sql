DROP INDEX audit_events_details;
