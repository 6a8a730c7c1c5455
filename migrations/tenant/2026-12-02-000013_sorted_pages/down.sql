CREATE INDEX entities_kind_name ON entities (lower(kind), name);
CREATE INDEX entities_name ON entities (name);
DROP INDEX entities_name_ref;
DROP INDEX entities_kind_name_ref;
