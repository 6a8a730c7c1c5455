-- Allocation of cost to the catalog: ordered rules, versioned (every change writes a new
-- revision holding the whole list), and the daily cost of each allocation target.

CREATE TABLE cost_rule_revisions (
    revision integer PRIMARY KEY,
    -- [{"kind": "tag" | "sub_account" | "resource", "key": "application", "pattern": "checkout*",
    --   "target": "component:default/checkout"}], first match wins.
    rules jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    reason text NOT NULL,
    -- When the allocation was recomputed with these rules; NULL while that runs.
    applied_at timestamptz
);

-- Each committed cost row's day, summed by the target its first matching rule names ('' when
-- no rule matches: the Unallocated bucket). Per import slice, replaced with it.
CREATE TABLE cost_allocated (
    import_id uuid NOT NULL REFERENCES cost_imports (id) ON DELETE CASCADE,
    billing_account_id text NOT NULL,
    billing_period_start timestamptz NOT NULL,
    day date NOT NULL,
    currency text NOT NULL,
    target text NOT NULL,
    service_name text NOT NULL,
    billed_cost numeric NOT NULL,
    effective_cost numeric NOT NULL,
    rows integer NOT NULL
);
CREATE INDEX cost_allocated_by_target ON cost_allocated (target, currency, day);
CREATE INDEX cost_allocated_by_day ON cost_allocated (currency, day);
-- The newest day of any currency: where the pages' "last 30 days" end.
CREATE INDEX cost_allocated_newest ON cost_allocated (day);
CREATE INDEX cost_allocated_slice ON cost_allocated (import_id, billing_account_id, billing_period_start);
