DROP TABLE cost_budget_alerts;
DROP TABLE cost_budgets;
