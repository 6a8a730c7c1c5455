//! What the catalog indexes for an entity: its (path, value) pairs for filters and facets,
//! and the words of its full-text search.

use serde_json::Value;

/// Values longer than this (API definitions, long descriptions) are not filterable.
const MAX_VALUE_LEN: usize = 200;

/// Flattens an entity into lower-cased `(path, value, original)` triples, Backstage style:
/// nested keys join with `.`, arrays of scalars give both `path=item` and `path.item=true`.
pub fn search_pairs(body: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    if let Some(root) = body.as_object() {
        for (key, value) in root {
            if key != "relations" && key != "status" {
                walk(&key.to_lowercase(), value, &mut out);
            }
        }
    }
    out
}

fn walk(path: &str, value: &Value, out: &mut Vec<(String, Option<String>, Option<String>)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                walk(&format!("{path}.{}", key.to_lowercase()), child, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => walk(path, item, out),
                    scalar => {
                        if let Some(text) = scalar_text(scalar) {
                            push(out, path.to_owned(), Some(text.clone()));
                            if text.len() <= MAX_VALUE_LEN {
                                push(out, format!("{path}.{}", text.to_lowercase()), Some("true".into()));
                            }
                        }
                    }
                }
            }
        }
        Value::Null => push(out, path.to_owned(), None),
        scalar => push(out, path.to_owned(), scalar_text(scalar)),
    }
}

fn push(out: &mut Vec<(String, Option<String>, Option<String>)>, key: String, original: Option<String>) {
    if original.as_ref().is_some_and(|v| v.len() > MAX_VALUE_LEN) {
        return;
    }
    out.push((key, original.as_ref().map(|v| v.to_lowercase()), original));
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether the values of `key` (a lower-cased path) are counted as they are written, in
/// `entity_facet_counts`: the paths facet views ask for, whose values are shared by many
/// entities. Others (names, references to single entities, annotations) are not: counting them
/// would double an import's writes for facets nobody shows, so theirs are computed from the
/// search rows. (Migration 2026-12-02-000012 backfilled existing rows with this rule.)
pub fn is_faceted(key: &str) -> bool {
    const COUNTED: [&str; 10] = [
        "kind",
        "metadata.namespace",
        "metadata.tags",
        "spec.type",
        "spec.lifecycle",
        "spec.owner",
        "spec.system",
        "spec.domain",
        "relations.ownedby",
        "relations.partof",
    ];
    COUNTED.contains(&key) || key.starts_with("metadata.labels.")
}

/// The words full-text search looks at: name, title, description, tags, owner, kind, type.
pub fn search_text(parts: &[Option<&str>]) -> String {
    parts.iter().flatten().copied().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entities_flatten_like_backstage() {
        let pairs = search_pairs(&json!({
            "kind": "Component",
            "metadata": { "name": "Petstore", "tags": ["Java"], "annotations": {"backstage.io/x": "y"} },
            "spec": { "owner": null, "definition": "x".repeat(300) },
            "relations": [{ "type": "ownedBy" }]
        }));
        let has = |k: &str, v: Option<&str>| pairs.iter().any(|(key, value, _)| key == k && value.as_deref() == v);
        assert!(has("kind", Some("component")));
        assert!(has("metadata.name", Some("petstore")));
        assert!(has("metadata.tags", Some("java")));
        assert!(has("metadata.tags.java", Some("true")));
        assert!(has("metadata.annotations.backstage.io/x", Some("y")));
        assert!(has("spec.owner", None));
        assert!(!pairs.iter().any(|(k, _, _)| k == "spec.definition" || k.starts_with("relations")));
        assert!(pairs.iter().any(|(k, _, original)| k == "metadata.name" && original.as_deref() == Some("Petstore")));
    }

    #[test]
    fn only_shared_values_are_counted() {
        let counted =
            ["kind", "spec.type", "metadata.tags", "relations.ownedby", "metadata.namespace", "metadata.labels.tier"];
        for key in counted {
            assert!(is_faceted(key), "{key}");
        }
        for key in [
            "metadata.uid",
            "metadata.name",
            "metadata.annotations.backstage.io/x",
            "spec.providesapis",
            "metadata.tags.java",
        ] {
            assert!(!is_faceted(key), "{key}");
        }
    }
}
