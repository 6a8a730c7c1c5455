DROP TABLE cost_engineer_rate;
