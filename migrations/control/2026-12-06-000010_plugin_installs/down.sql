DROP TABLE control.plugin_installs;
