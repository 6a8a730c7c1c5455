DROP TABLE cost_monthly;
DROP TABLE cost_daily;
DROP TABLE cost_slices;
DROP TABLE cost_rows;
DROP TABLE cost_imports;
