-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- Cost anomalies (see app/src/finops/anomalies.rs): a day of one allocation target's service
-- far from the same weekday of the weeks before, with what was expected and what caused it.
CREATE TABLE cost_anomalies (
    target          TEXT NOT NULL,
    service_name    TEXT NOT NULL,
    currency        TEXT NOT NULL,
    day             DATE NOT NULL,
    actual          NUMERIC NOT NULL,
    expected        NUMERIC NOT NULL,
    low             NUMERIC NOT NULL,
    high            NUMERIC NOT NULL,
    z               DOUBLE PRECISION NOT NULL,
    -- [{"resource": "i-0abc", "cost": "41.20"}], the largest first.
    top_resources   JSONB NOT NULL,
    detected_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by TEXT,
    PRIMARY KEY (target, service_name, currency, day)
);
CREATE INDEX cost_anomalies_recent ON cost_anomalies (day DESC);

-- The tenant's floors: a deviation is an anomaly only when its impact is at least this much
-- money and this share of the expected cost.
CREATE TABLE cost_anomaly_settings (
    singleton        BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    absolute_floor   NUMERIC NOT NULL CHECK (absolute_floor >= 0),
    percent_floor    DOUBLE PRECISION NOT NULL CHECK (percent_floor >= 0)
);
INSERT INTO cost_anomaly_settings (absolute_floor, percent_floor) VALUES (10, 20);
