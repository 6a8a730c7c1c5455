-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- The allocation page lists the costliest resources no rule matches, and a rule's preview
-- says what it would move, both over the last 30 days of charges. Summing those from the
-- charges on every view read a month of rows (800,000 at ten million a year) for a few dozen
-- lines. What the rules look at (tags, sub-account, resource) summed per service and currency
-- over the window is kept here instead, one row per resource, replaced by each import's
-- commit: the only change that moves the window or what it holds (a rule change does not).
CREATE TABLE cost_recent_keys (
    tags jsonb NOT NULL,
    sub_account_id text,
    sub_account_name text,
    resource_id text,
    service_name text NOT NULL,
    currency text NOT NULL,
    cost numeric NOT NULL
);

INSERT INTO cost_recent_keys
SELECT tags, sub_account_id, sub_account_name, resource_id, service_name, billing_currency, sum(effective_cost)
  FROM cost_rows, (SELECT max(day) AS last FROM cost_allocated) AS w
 WHERE import_id IN (SELECT import_id FROM cost_slices)
   AND charge_period_start >= w.last - 29 AND charge_period_start < w.last + 1
 GROUP BY 1, 2, 3, 4, 5, 6;
