-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- GDPR erasure reaches archived months too (app/src/audit/archive_erasure.rs). The erasure's
-- transaction queues one row per archived month, holding whom to erase and their pseudonym
-- sealed with the keyring (never in clear: the person is gone from everything else the moment
-- the erasure commits). The archiver then writes the month's archive again with the person
-- replaced, re-signs its manifest, and in one transaction records the new manifest, deletes
-- the rows it carried out and names the replaced file in `superseded_object`, which it deletes
-- from storage next (so a crash between the two still leaves nobody's name behind for long).
CREATE TABLE audit_archive_erasures (
    id           BIGSERIAL PRIMARY KEY,
    month        DATE NOT NULL REFERENCES audit_archives (month),
    key_id       TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX audit_archive_erasures_by_month ON audit_archive_erasures (month, id);

ALTER TABLE audit_archives ADD COLUMN superseded_object TEXT;
