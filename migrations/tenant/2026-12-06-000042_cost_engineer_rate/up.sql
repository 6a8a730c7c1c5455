-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- What one engineer costs the organisation a month, so cost can be read as people
-- ("≈ 1.4 engineers"). Unset (no row) until a maintainer gives it; it speaks for its own
-- currency only, as amounts are never converted.
CREATE TABLE cost_engineer_rate (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    monthly_cost numeric NOT NULL CHECK (monthly_cost > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$')
);
