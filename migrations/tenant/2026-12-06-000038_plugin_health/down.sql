DROP TABLE plugin_update_notices;
DROP TABLE plugin_health;
