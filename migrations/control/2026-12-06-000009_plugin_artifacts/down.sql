DROP TABLE plugin_artifacts;
