DROP TABLE cost_allocated;
DROP TABLE cost_rule_revisions;
