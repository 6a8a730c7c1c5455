ALTER TABLE audit_archives DROP COLUMN superseded_object;
DROP TABLE audit_archive_erasures;
