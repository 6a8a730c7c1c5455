-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- What the usage insights count that no other table records: catalog entity pages viewed and
-- catalog searches that found nothing, per UTC day and subject (the entity ref, the search
-- text). Counted in memory and added here in batches (`insights::counter`), never written on
-- the request's path; no person is recorded, only how often.
CREATE TABLE usage_counts (
    day     DATE NOT NULL,
    metric  TEXT NOT NULL CHECK (metric IN ('entity_view', 'empty_search')),
    subject TEXT NOT NULL CHECK (length(subject) <= 256),
    count   BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (metric, day, subject)
);
