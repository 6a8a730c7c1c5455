-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Shared pools (see app/src/finops/allocation_repo.rs): cost that a shared rule matches (a
-- cluster, networking, support) is kept here unsplit, per day, and split into cost_allocated
-- among the rule's recipients — evenly, by their direct cost that day, or by fixed percents.
CREATE TABLE cost_pooled (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id uuid NOT NULL REFERENCES cost_imports (id) ON DELETE CASCADE,
    billing_account_id text NOT NULL,
    billing_period_start timestamptz NOT NULL,
    day date NOT NULL,
    currency text NOT NULL,
    -- The shared rule's pool, as its target: 'pool:kubernetes'.
    pool text NOT NULL,
    service_name text NOT NULL,
    billed_cost numeric NOT NULL,
    effective_cost numeric NOT NULL,
    rows integer NOT NULL
);
CREATE INDEX cost_pooled_by_day ON cost_pooled (day);
CREATE INDEX cost_pooled_slice ON cost_pooled (import_id);

-- Rows of cost_allocated that are a recipient's share of a pool: replaced whenever the pool's
-- days are split again.
ALTER TABLE cost_allocated ADD COLUMN shared boolean NOT NULL DEFAULT false;
CREATE INDEX cost_allocated_shared ON cost_allocated (day) WHERE shared;

-- OpenCost allocations (its /allocation API's JSON): per cluster, namespace and window, what
-- OpenCost estimates each namespace used. Never cost of their own: the weights an `opencost`
-- split shares the cluster's billed cost by. A re-import of a source's cluster and window
-- replaces it.
CREATE TABLE cost_opencost (
    import_id uuid NOT NULL REFERENCES cost_imports (id) ON DELETE CASCADE,
    source text NOT NULL,
    cluster text NOT NULL,
    namespace text NOT NULL,
    name text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end timestamptz NOT NULL CHECK (window_end > window_start),
    total_cost numeric NOT NULL CHECK (total_cost >= 0)
);
CREATE INDEX cost_opencost_window ON cost_opencost (cluster, window_start);
CREATE INDEX cost_opencost_import ON cost_opencost (import_id);
