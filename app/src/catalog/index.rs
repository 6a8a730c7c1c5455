//! What the catalog indexes for an entity: its (path, value) pairs for filters and facets,
//! and the words of its full-text search.

use serde_json::Value;

/// Values longer than this (API definitions, long descriptions) are not filterable.
const MAX_VALUE_LEN: usize = 200;

/// Joins a path and a value in an entry. Paths that hold it are not indexed.
pub const SEPARATOR: char = '\u{1f}';

/// The entry of `value` at `path`.
pub fn entry(path: &str, value: &str) -> String {
    format!("{path}{SEPARATOR}{value}")
}

/// Paths every stored entity has (validation requires kind and name and fills in the
/// namespace; the uid is the server's), with a column that holds their value: filters on them
/// read the columns, so neither the path nor its values are written among the filter entries.
pub const ALWAYS_PRESENT: [&str; 4] = ["kind", "metadata.name", "metadata.namespace", "metadata.uid"];

/// Optional paths whose values filters read from a column: their entries keep only the path
/// (for `$exists`).
const VALUES_IN_COLUMNS: [&str; 2] = ["spec.type", "spec.lifecycle"];

/// An entity's paths and values as the catalog stores them on the entity, Backstage style:
/// nested keys join with `.` (lower-cased), arrays of scalars give both `path=item` and
/// `path.item=true`. (Migration 2026-12-06-000044 describes the columns.)
#[derive(Debug, Default, PartialEq)]
pub struct SearchEntries {
    /// Every path, and `path␟value` with the value lower-cased: what filters look up.
    pub filters: Vec<String>,
    /// `path␟Value` (case kept) of the paths counted per kind (`is_counted`).
    pub counted_values: Vec<String>,
    /// `path␟Value` (case kept) of the other paths, for facets computed on demand.
    pub facet_values: Vec<String>,
}

impl SearchEntries {
    /// The entries of an entity's document (relations and status aside) and of its uid.
    pub fn of(body: &Value, uid: &str) -> Self {
        let mut out = Self::default();
        out.add("metadata.uid", Some(uid.to_owned()));
        if let Some(root) = body.as_object() {
            for (key, value) in root {
                if key != "relations" && key != "status" {
                    out.walk(&key.to_lowercase(), value);
                }
            }
        }
        out
    }

    /// A relation of the entity (`relations.ownedby`, lower-cased, to `target`): relations are
    /// filtered from their own table, so only the counted ones are kept here, for their counts.
    pub fn add_relation(&mut self, path: &str, target: &str) {
        if is_counted(path) {
            self.counted_values.push(entry(path, target));
        }
    }

    fn walk(&mut self, path: &str, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    self.walk(&format!("{path}.{}", key.to_lowercase()), child);
                }
            }
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(_) | Value::Array(_) => self.walk(path, item),
                        scalar => {
                            if let Some(text) = scalar_text(scalar) {
                                if text.len() <= MAX_VALUE_LEN {
                                    self.add(&format!("{path}.{}", text.to_lowercase()), Some("true".into()));
                                }
                                self.add(path, Some(text));
                            }
                        }
                    }
                }
            }
            Value::Null => self.add(path, None),
            scalar => self.add(path, scalar_text(scalar)),
        }
    }

    fn add(&mut self, path: &str, original: Option<String>) {
        if path.contains(SEPARATOR) || original.as_ref().is_some_and(|v| v.len() > MAX_VALUE_LEN) {
            return;
        }
        // Each entry is a key in the filters' GIN index, which was most of what an import
        // cost PostgreSQL: the entries columns answer (a uid and a name unique to every
        // entity among them) are left out.
        let in_columns = ALWAYS_PRESENT.contains(&path);
        if !in_columns && !self.filters.iter().any(|f| f == path) {
            self.filters.push(path.to_owned());
        }
        if let Some(original) = original {
            if !in_columns && !VALUES_IN_COLUMNS.contains(&path) {
                self.filters.push(entry(path, &original.to_lowercase()));
            }
            let values = if is_counted(path) { &mut self.counted_values } else { &mut self.facet_values };
            values.push(entry(path, &original));
        }
    }
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
/// entities' `facet_values`.
pub fn is_counted(key: &str) -> bool {
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
        let entries = SearchEntries::of(
            &json!({
                "kind": "Component",
                "metadata": { "name": "Petstore", "namespace": "default", "tags": ["Java"], "annotations": {"backstage.io/x": "y"} },
                "spec": { "owner": null, "type": "Service", "definition": "x".repeat(300), "a\u{1f}b": "hidden" },
                "relations": [{ "type": "ownedBy" }]
            }),
            "0190-uid",
        );
        let filters = |f: &str| entries.filters.iter().any(|e| e == f);
        for found in [
            "metadata.tags\u{1f}java",
            "metadata.tags.java\u{1f}true",
            "metadata.annotations.backstage.io/x",
            "metadata.annotations.backstage.io/x\u{1f}y",
            // A null is there for `$exists`, with no value.
            "spec.owner",
            // A path whose value is in a column, for `$exists` only.
            "spec.type",
        ] {
            assert!(filters(found), "{found:?} in {:?}", entries.filters);
        }
        // Filters on the paths in columns read the columns.
        for path in ALWAYS_PRESENT {
            assert!(!entries.filters.iter().any(|f| f.starts_with(path)), "{path} in {:?}", entries.filters);
        }
        assert!(!entries.filters.iter().any(|f| f.starts_with("spec.type\u{1f}")));
        assert_eq!(entries.filters.iter().filter(|f| *f == "metadata.tags").count(), 1, "paths once each");
        assert!(!entries.filters.iter().any(|f| f.starts_with("spec.owner\u{1f}")
            || f.starts_with("spec.definition")
            || f.starts_with("relations")
            || f.starts_with("spec.a")));
        // Values keep their case where facets show them; counted paths apart from the rest.
        assert!(entries.counted_values.contains(&"kind\u{1f}Component".to_owned()));
        assert!(entries.counted_values.contains(&"metadata.tags\u{1f}Java".to_owned()));
        assert!(entries.facet_values.contains(&"metadata.name\u{1f}Petstore".to_owned()));
        assert!(entries.counted_values.contains(&"spec.type\u{1f}Service".to_owned()));
        assert!(!entries.facet_values.iter().chain(&entries.counted_values).any(|v| v.starts_with("kind\u{1f}c")));
    }

    #[test]
    fn only_counted_relations_are_kept() {
        let mut entries = SearchEntries::default();
        entries.add_relation("relations.ownedby", "group:default/team-a");
        entries.add_relation("relations.dependson", "component:default/x");
        assert_eq!(entries.counted_values, vec!["relations.ownedby\u{1f}group:default/team-a".to_owned()]);
        assert!(entries.filters.is_empty() && entries.facet_values.is_empty());
    }

    #[test]
    fn only_shared_values_are_counted() {
        let counted =
            ["kind", "spec.type", "metadata.tags", "relations.ownedby", "metadata.namespace", "metadata.labels.tier"];
        for key in counted {
            assert!(is_counted(key), "{key}");
        }
        for key in [
            "metadata.uid",
            "metadata.name",
            "metadata.annotations.backstage.io/x",
            "spec.providesapis",
            "metadata.tags.java",
        ] {
            assert!(!is_counted(key), "{key}");
        }
    }
}
