-- One row per request made with an API key or an OAuth client's access token: who called,
-- what (the route template and the path), the outcome and how long it took. Written in
-- batches by the access-log writer, never in the request's own transaction, so logging adds
-- no write to the request's path. Kept 90 days (pruned by the writer).
CREATE TABLE api_requests (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL,
    api_key_id      UUID,
    oauth_client_id TEXT,
    user_id         UUID,
    method          TEXT NOT NULL CHECK (length(method) <= 16),
    -- The route template that matched (`/api/catalog/entities/by-name/{kind}/{namespace}/{name}`),
    -- so a caller's traffic groups by endpoint; `path` is what was asked for.
    route           TEXT NOT NULL CHECK (length(route) <= 512),
    path            TEXT NOT NULL CHECK (length(path) <= 512),
    status          SMALLINT NOT NULL CHECK (status BETWEEN 100 AND 599),
    latency_us      INTEGER NOT NULL CHECK (latency_us >= 0),
    ip              TEXT,
    CHECK ((api_key_id IS NULL) <> (oauth_client_id IS NULL))
);
-- A key's or a client's recent traffic (the usage charts), newest first.
CREATE INDEX api_requests_key ON api_requests (api_key_id, at) WHERE api_key_id IS NOT NULL;
CREATE INDEX api_requests_client ON api_requests (oauth_client_id, at) WHERE oauth_client_id IS NOT NULL;
-- Rows arrive in time order: a BRIN index serves the per-day totals and the pruning for a
-- fraction of a B-tree's size.
CREATE INDEX api_requests_at ON api_requests USING brin (at);
