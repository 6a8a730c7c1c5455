-- Lets an entity page find the import batches that wrote it (details.entities lists them).
CREATE INDEX audit_events_details ON audit_events USING gin (details jsonb_path_ops);
