-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Budgets on allocated cost (see app/src/finops/budgets.rs): a scope (the whole organisation,
-- or a catalog entity: a group with what it owns), a period, a metric and thresholds on the
-- actual spend or the forecast. Each threshold fires once per period.
CREATE TABLE cost_budgets (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- '' for the whole organisation, else a stored entity ref.
    scope      TEXT NOT NULL,
    period     TEXT NOT NULL CHECK (period IN ('month', 'quarter', 'year')),
    metric     TEXT NOT NULL CHECK (metric IN ('billed', 'amortized')),
    amount     NUMERIC NOT NULL CHECK (amount > 0),
    currency   TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- [{"percent": 80, "on": "actual"}, {"percent": 100, "on": "forecast"}]
    thresholds JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by TEXT NOT NULL
);

-- A threshold that fired in a period: the key makes it fire once, and a new period re-arms it.
CREATE TABLE cost_budget_alerts (
    budget_id    UUID NOT NULL REFERENCES cost_budgets (id) ON DELETE CASCADE,
    period_start DATE NOT NULL,
    threshold    INTEGER NOT NULL,
    fired_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    actual       NUMERIC NOT NULL,
    forecast     NUMERIC NOT NULL,
    PRIMARY KEY (budget_id, period_start, threshold)
);
