//! Relations generated from spec fields, each with its reverse (well-known-relations.md).

use serde_json::{Map, Value};

use super::refs::EntityRef;

/// A relation from the entity being ingested (`Forward`) or towards it (`Reverse`), stored
/// from the source's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub relation: &'static str,
    pub reverse: &'static str,
    pub target: EntityRef,
}

/// (spec field, relation, reverse relation, default kind of short refs).
const SPEC_RELATIONS: [(&str, &str, &str, Option<&str>); 13] = [
    ("owner", "ownedBy", "ownerOf", Some("group")),
    ("system", "partOf", "hasPart", Some("system")),
    ("domain", "partOf", "hasPart", Some("domain")),
    ("subcomponentOf", "partOf", "hasPart", Some("component")),
    ("subdomainOf", "partOf", "hasPart", Some("domain")),
    ("providesApis", "providesApi", "apiProvidedBy", Some("api")),
    ("consumesApis", "consumesApi", "apiConsumedBy", Some("api")),
    ("dependsOn", "dependsOn", "dependencyOf", None),
    ("dependencyOf", "dependencyOf", "dependsOn", None),
    ("parent", "childOf", "parentOf", Some("group")),
    ("children", "parentOf", "childOf", Some("group")),
    ("members", "hasMember", "memberOf", Some("user")),
    ("memberOf", "memberOf", "hasMember", Some("group")),
];

/// The relations an entity's spec declares. Bad references are reported against their field;
/// targets that do not exist are kept (they show as missing, not dropped).
pub fn relations_of(kind: &str, namespace: &str, spec: &Map<String, Value>, errors: &mut Vec<String>) -> Vec<Relation> {
    let mut relations = Vec::new();
    for (field, relation, reverse, default_kind) in SPEC_RELATIONS {
        // A Group's `members`/`children` and a User's `memberOf` apply only to those kinds;
        // `owner`, `system` etc. apply to every kind that has them.
        if matches!(field, "children" | "members" | "parent") && !kind.eq_ignore_ascii_case("group") {
            continue;
        }
        let refs: Vec<&Value> = match spec.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
        };
        for value in refs {
            let Some(raw) = value.as_str() else {
                errors.push(format!("spec.{field}: entries must be entity references (strings)"));
                continue;
            };
            match EntityRef::parse(raw, default_kind, namespace) {
                Ok(target) => relations.push(Relation { relation, reverse, target }),
                Err(e) => errors.push(format!("spec.{field}: {e}")),
            }
        }
    }
    relations
}

/// The stored spelling of a relation type named case-insensitively (`ownerof` → `ownerOf`).
pub fn canonical_relation(name: &str) -> String {
    SPEC_RELATIONS
        .iter()
        .flat_map(|(_, relation, reverse, _)| [*relation, *reverse])
        .find(|known| known.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), str::to_owned)
}

/// The reverse of a stored relation type (`ownedBy` → `ownerOf`). Every relation is stored with
/// its reverse, so the entities with a relation to a target are the targets of the target's
/// reverse relation, read from the index by source.
pub fn reverse_of(relation: &str) -> Option<&'static str> {
    SPEC_RELATIONS.iter().find_map(|(_, forward, reverse, _)| match relation {
        _ if relation == *forward => Some(*reverse),
        _ if relation == *reverse => Some(*forward),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(kind: &str, spec: Value) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let out = relations_of(kind, "prod", spec.as_object().unwrap(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        out.into_iter().map(|r| (r.relation.to_owned(), r.target.key())).collect()
    }

    #[test]
    fn component_fields_generate_relations_with_default_kinds_and_own_namespace() {
        let got = keys(
            "Component",
            json!({ "owner": "team-a", "system": "default/pets", "providesApis": ["pet-api"],
                    "consumesApis": ["api:other/x"], "dependsOn": ["resource:db"], "subcomponentOf": "shop" }),
        );
        assert!(got.contains(&("ownedBy".into(), "group:prod/team-a".into())));
        assert!(got.contains(&("partOf".into(), "system:default/pets".into())));
        assert!(got.contains(&("providesApi".into(), "api:prod/pet-api".into())));
        assert!(got.contains(&("consumesApi".into(), "api:other/x".into())));
        assert!(got.contains(&("dependsOn".into(), "resource:prod/db".into())));
        assert!(got.contains(&("partOf".into(), "component:prod/shop".into())));
    }

    #[test]
    fn groups_and_users_link_both_ways() {
        let got = keys("Group", json!({ "parent": "org", "children": ["team-b"], "members": ["jdoe"] }));
        assert_eq!(
            got,
            vec![
                ("childOf".into(), "group:prod/org".into()),
                ("parentOf".into(), "group:prod/team-b".into()),
                ("hasMember".into(), "user:prod/jdoe".into()),
            ]
        );
        assert_eq!(
            keys("User", json!({ "memberOf": ["team-a"] })),
            vec![("memberOf".into(), "group:prod/team-a".into())]
        );
    }

    #[test]
    fn every_stored_relation_has_its_reverse() {
        for (_, forward, reverse, _) in SPEC_RELATIONS {
            assert_eq!(reverse_of(forward), Some(reverse));
            assert_eq!(reverse_of(reverse), Some(forward));
        }
        assert_eq!(reverse_of("ownerof"), None, "stored spellings only: callers canonicalise first");
        assert_eq!(reverse_of("likes"), None);
    }

    #[test]
    fn depends_on_needs_an_explicit_kind() {
        let mut errors = Vec::new();
        relations_of("Component", "default", json!({ "dependsOn": ["db"] }).as_object().unwrap(), &mut errors);
        assert!(errors[0].starts_with("spec.dependsOn"), "{errors:?}");
    }
}
