-- FinOps cost data: each uploaded bill is an import; its rows are staged under the import's id
-- and become visible all at once when the import commits, replacing what an earlier import of
-- the same source held for the same (billing account, billing period).

CREATE TABLE cost_imports (
    id uuid PRIMARY KEY,
    -- Who sends these bills (e.g. "aws-payer", "azure-ea"): re-importing a period of one
    -- source replaces it, another source's rows for the same account are kept.
    source text NOT NULL CHECK (source ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    file_name text NOT NULL,
    format text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    bytes_total bigint NOT NULL DEFAULT 0,
    bytes_read bigint NOT NULL DEFAULT 0,
    rows_read bigint NOT NULL DEFAULT 0,
    -- Totals per currency and billing period, rejected rows, warnings (see finops::model).
    report jsonb,
    error text
);
CREATE INDEX cost_imports_newest ON cost_imports (created_at DESC);

-- One row of a bill as FOCUS names it; money is NUMERIC as the files give it (never float).
CREATE TABLE cost_rows (
    import_id uuid NOT NULL REFERENCES cost_imports (id) ON DELETE CASCADE,
    line bigint NOT NULL,
    provider text NOT NULL,
    billing_account_id text NOT NULL,
    billing_account_name text,
    sub_account_id text,
    sub_account_name text,
    billing_currency text NOT NULL,
    billing_period_start timestamptz NOT NULL,
    billing_period_end timestamptz NOT NULL,
    charge_period_start timestamptz NOT NULL,
    charge_period_end timestamptz NOT NULL,
    charge_category text NOT NULL,
    charge_class text,
    charge_description text,
    service_name text NOT NULL,
    service_category text NOT NULL,
    region_id text,
    resource_id text,
    resource_name text,
    resource_type text,
    sku_id text,
    billed_cost numeric NOT NULL,
    effective_cost numeric NOT NULL,
    list_cost numeric,
    contracted_cost numeric,
    pricing_quantity numeric,
    pricing_unit text,
    commitment_discount_id text,
    tags jsonb NOT NULL DEFAULT '{}',
    -- x_ columns, columns FOCUS does not name, and a provider's own columns: kept, not lost.
    extra jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (import_id, line)
);

-- Which import holds each (source, billing account, billing period) now.
CREATE TABLE cost_slices (
    source text NOT NULL,
    billing_account_id text NOT NULL,
    billing_period_start timestamptz NOT NULL,
    import_id uuid NOT NULL REFERENCES cost_imports (id),
    PRIMARY KEY (source, billing_account_id, billing_period_start)
);

-- Daily sums of the committed rows: what the cost pages read (a year of a mid-size estate is
-- millions of rows, a few hundred thousand of these).
CREATE TABLE cost_daily (
    import_id uuid NOT NULL REFERENCES cost_imports (id) ON DELETE CASCADE,
    billing_account_id text NOT NULL,
    billing_period_start timestamptz NOT NULL,
    day date NOT NULL,
    currency text NOT NULL,
    provider text NOT NULL,
    sub_account_id text NOT NULL,
    service_name text NOT NULL,
    service_category text NOT NULL,
    region_id text NOT NULL,
    charge_category text NOT NULL,
    corrections boolean NOT NULL,
    billed_cost numeric NOT NULL,
    effective_cost numeric NOT NULL,
    list_cost numeric NOT NULL,
    rows integer NOT NULL
);
CREATE INDEX cost_daily_by_day ON cost_daily (currency, day);
CREATE INDEX cost_daily_slice ON cost_daily (import_id, billing_account_id, billing_period_start);

-- The same sums per month of charge and billing period: the overview's breakdowns and its
-- twelve months read this, a few dozen times smaller than the days.
CREATE TABLE cost_monthly (
    import_id uuid NOT NULL REFERENCES cost_imports (id) ON DELETE CASCADE,
    billing_account_id text NOT NULL,
    billing_period_start timestamptz NOT NULL,
    -- The first day of the month the charges were incurred in (the amortized view's month).
    month date NOT NULL,
    -- The first day of the billing period's month (the invoice view's month).
    billing_month date NOT NULL,
    currency text NOT NULL,
    provider text NOT NULL,
    sub_account_id text NOT NULL,
    service_name text NOT NULL,
    service_category text NOT NULL,
    region_id text NOT NULL,
    charge_category text NOT NULL,
    billed_cost numeric NOT NULL,
    effective_cost numeric NOT NULL,
    rows integer NOT NULL
);
CREATE INDEX cost_monthly_by_month ON cost_monthly (currency, month);
CREATE INDEX cost_monthly_by_billing_month ON cost_monthly (currency, billing_month);
CREATE INDEX cost_monthly_slice ON cost_monthly (import_id, billing_account_id, billing_period_start);
