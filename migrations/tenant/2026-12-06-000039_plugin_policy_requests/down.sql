DROP TABLE plugin_change_requests;
ALTER TABLE plugin_platform DROP COLUMN policy;
