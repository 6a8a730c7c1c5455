-- Runs with the tenant's schema alone on the search path: never qualify names here.
--
-- GDPR erasure may rewrite the fields of an audit event that can name a person, and nothing
-- else. Deletes and truncates stay refused for everyone; an update passes only inside a
-- transaction that declared an erasure (`SET LOCAL beacon.erasure = 'on'`), only if it drops
-- the event's personal salt, and only if every hashed fact, the personal digest and the
-- content hash are unchanged: the event stays in the chain and the chain still verifies,
-- while nothing links its digest back to the person any more (see app/src/audit/chain.rs).
DROP TRIGGER audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_append_only BEFORE DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE FUNCTION audit_events_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('beacon.erasure', true), '') <> 'on'
       OR NEW.personal_salt IS NOT NULL
       OR (NEW.id, NEW.occurred_at, NEW.action, NEW.outcome, NEW.severity, NEW.request_id,
           NEW.personal_digest, NEW.content_hash)
          IS DISTINCT FROM
          (OLD.id, OLD.occurred_at, OLD.action, OLD.outcome, OLD.severity, OLD.request_id,
           OLD.personal_digest, OLD.content_hash)
    THEN
        RAISE EXCEPTION 'audit events are append-only (an erasure may only remove personal data)';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_erasure_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_erasure_only();
