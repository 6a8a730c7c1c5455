CREATE INDEX entity_relations_target ON entity_relations (relation, target_ref);
