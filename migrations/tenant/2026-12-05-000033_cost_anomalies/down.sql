DROP TABLE cost_anomaly_settings;
DROP TABLE cost_anomalies;
