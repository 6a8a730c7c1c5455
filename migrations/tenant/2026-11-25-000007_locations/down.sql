DROP TABLE import_jobs;
DROP TABLE fetch_allowlist;
ALTER TABLE entities DROP COLUMN parent_ref, DROP COLUMN location_id;
DROP TABLE locations;
