-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- The tenant's reporting currency and what one unit of another currency is worth in it, for
-- the overview's converted view ("All, in USD"). Amounts stay stored in their own currencies;
-- only that view multiplies them, at these rates. Every row names the same reporting currency
-- (the set is replaced whole); no rows: no converted view.
CREATE TABLE cost_currency_rates (
    currency text PRIMARY KEY CHECK (currency ~ '^[A-Z]{3}$'),
    reporting text NOT NULL CHECK (reporting ~ '^[A-Z]{3}$' AND reporting <> currency),
    rate numeric NOT NULL CHECK (rate > 0)
);
