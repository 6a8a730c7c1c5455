DROP TABLE cost_recent_keys;
