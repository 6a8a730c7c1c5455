DROP INDEX entities_kind_name, entities_name, entities_type, entities_lifecycle, entities_owner, entities_tags;
