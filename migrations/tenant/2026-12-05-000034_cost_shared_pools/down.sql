DROP TABLE cost_opencost;
ALTER TABLE cost_allocated DROP COLUMN shared;
DROP TABLE cost_pooled;
