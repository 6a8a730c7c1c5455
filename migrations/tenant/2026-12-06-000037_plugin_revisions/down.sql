DROP TABLE plugin_revisions;
DROP TABLE plugin_platform;
