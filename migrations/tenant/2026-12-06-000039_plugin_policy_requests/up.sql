-- The tenant's restriction of the plugin directory ({support: [...], blocked: [...],
-- active_only}); the empty object allows every plugin.
ALTER TABLE plugin_platform ADD COLUMN policy JSONB NOT NULL DEFAULT '{}';

-- Changes maintainers ask for and admins decide. An approved request names the revision its
-- change made; a rejected one the admin's note.
CREATE TABLE plugin_change_requests (
    id UUID PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    requested_by UUID NOT NULL,
    requester TEXT NOT NULL,
    operation JSONB NOT NULL,
    summary TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by UUID,
    decider TEXT,
    decided_at TIMESTAMPTZ,
    note TEXT,
    revision INTEGER
);
CREATE INDEX plugin_change_requests_recent ON plugin_change_requests (created_at DESC);
