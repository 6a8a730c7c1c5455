DROP TABLE control.plugin_directory_version;
DROP TABLE control.plugin_package_versions;
DROP TABLE control.plugin_packages;
DROP TABLE control.plugins;
DROP TABLE control.backstage_releases;
