-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- What the usage insights count that no other table records, per UTC day and subject:
-- catalog entity pages viewed (the entity ref), catalog searches that found nothing (the
-- text) and members active (their account id, once per day and server). Counted in memory and
-- added here in batches (`insights::counter`), never written on the request's path. A GDPR
-- erasure deletes the rows that name the person.
CREATE TABLE usage_counts (
    day     DATE NOT NULL,
    metric  TEXT NOT NULL CHECK (metric IN ('entity_view', 'empty_search', 'active_member')),
    subject TEXT NOT NULL CHECK (length(subject) <= 256),
    count   BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (metric, day, subject)
);
