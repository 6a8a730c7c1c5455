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
