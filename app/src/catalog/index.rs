//! What the catalog indexes for an entity: its (path, value) pairs for filters and facets,
//! and the words of its full-text search.

use std::borrow::Cow;

use serde_json::Value;

/// Values longer than this (API definitions, long descriptions) are not filterable.
const MAX_VALUE_LEN: usize = 200;

/// Joins a path and a value in an entry. Paths that hold it are not indexed.
const SEPARATOR: char = '\u{1f}';

/// The entry of `value` at `path`.
fn entry(path: &str, value: &str) -> String {
    format!("{path}{SEPARATOR}{value}")
}

/// Joins an array's path and one of its scalar items. An item is one entry, `path␞item`, which
/// filters read for both of Backstage's forms, `path=item` and the legacy `path.item=true`
/// (`value_entries`, `presence_entries`): an array's items were three entries each (`path␟item`,
/// `path.item`, `path.item␟true`), a third of a component's filter entries. Its own separator
/// keeps a scalar at `path.item` apart, which Backstage does not read as `path.item=true`.
const ITEM_SEPARATOR: char = '\u{1e}';

/// The entry of `item` in the array at `path`.
fn item_entry(path: &str, item: &str) -> String {
    format!("{path}{ITEM_SEPARATOR}{item}")
}

/// The filter entries any one of which gives `path` the (lower-cased) `value`: the value's own,
/// an array item's, and for `true` the legacy form of an item, whose path ends with the item
/// (`metadata.tags.java`): it may contain dots, so every dot of the path is tried.
pub fn value_entries(path: &str, value: &str) -> Vec<String> {
    let mut out = vec![entry(path, value), item_entry(path, value)];
    if value == "true" {
        out.extend(items_named_by(path));
    }
    out
}

/// The filter entries any one of which says an entity has `path`: the path's own, or the
/// legacy path of an array item (see `value_entries`).
pub fn presence_entries(path: &str) -> Vec<String> {
    let mut out = vec![path.to_owned()];
    out.extend(items_named_by(path));
    out
}

fn items_named_by(path: &str) -> impl Iterator<Item = String> + '_ {
    path.match_indices('.').map(|(at, _)| item_entry(&path[..at], &path[at + 1..]))
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
/// `path.item=true` (one filter entry for both, see `ITEM_SEPARATOR`). (Migration
/// 2026-12-06-000044 describes the columns.)
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
        out.add("metadata.uid", Some(uid));
        if let Some(root) = body.as_object() {
            // One path buffer for the whole walk: each key is pushed onto it and popped after.
            let mut path = String::new();
            for (key, value) in root {
                if key != "relations" && key != "status" {
                    path.clear();
                    push_lowercase(&mut path, key);
                    out.walk(&mut path, value);
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

    fn walk(&mut self, path: &mut String, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let parent = path.len();
                    path.push('.');
                    push_lowercase(path, key);
                    self.walk(path, child);
                    path.truncate(parent);
                }
            }
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(_) | Value::Array(_) => self.walk(path, item),
                        scalar => {
                            if let Some(text) = scalar_text(scalar) {
                                self.add_item(path, &text);
                            }
                        }
                    }
                }
            }
            Value::Null => self.add(path, None),
            scalar => self.add(path, scalar_text(scalar).as_deref()),
        }
    }

    fn add(&mut self, path: &str, original: Option<&str>) {
        self.add_as(path, original, entry);
    }

    /// A scalar item of the array at `path`: its facet values are Backstage's two forms, its
    /// filter entry is one (`ITEM_SEPARATOR`).
    fn add_item(&mut self, path: &str, item: &str) {
        if item.len() <= MAX_VALUE_LEN {
            let legacy_path = format!("{path}.{}", item.to_lowercase());
            if !legacy_path.contains(SEPARATOR) {
                self.add_value(&legacy_path, "true");
            }
        }
        self.add_as(path, Some(item), item_entry);
    }

    /// The path, and its value as the filter entry `filter_entry` makes of it.
    fn add_as(&mut self, path: &str, original: Option<&str>, filter_entry: fn(&str, &str) -> String) {
        if path.contains(SEPARATOR) || original.is_some_and(|v| v.len() > MAX_VALUE_LEN) {
            return;
        }
        self.add_path(path);
        if let Some(original) = original {
            if filters_value(path) {
                self.filters.push(filter_entry(path, &original.to_lowercase()));
            }
            self.add_value(path, original);
        }
    }

    /// The path itself, once, for `$exists`. Each filter entry is a key in the filters' GIN
    /// index, which was most of what an import cost PostgreSQL: the entries columns answer (a
    /// uid and a name unique to every entity among them) are left out.
    fn add_path(&mut self, path: &str) {
        if !ALWAYS_PRESENT.contains(&path) && !self.filters.iter().any(|f| f == path) {
            self.filters.push(path.to_owned());
        }
    }

    fn add_value(&mut self, path: &str, original: &str) {
        let values = if is_counted(path) { &mut self.counted_values } else { &mut self.facet_values };
        values.push(entry(path, original));
    }
}

/// Appends `key` lower-cased, as `str::to_lowercase` gives it.
fn push_lowercase(path: &mut String, key: &str) {
    if key.is_ascii() {
        path.extend(key.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        path.push_str(&key.to_lowercase());
    }
}

/// Whether filters read the values of `path` from its entries rather than from a column.
fn filters_value(path: &str) -> bool {
    !ALWAYS_PRESENT.contains(&path) && !VALUES_IN_COLUMNS.contains(&path)
}

fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
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
            "metadata.tags\u{1e}java",
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
        // An array item is one entry: neither its value entry nor its legacy path.
        assert!(!entries
            .filters
            .iter()
            .any(|f| f.starts_with("metadata.tags\u{1f}") || f.starts_with("metadata.tags.")));
        assert!(entries.facet_values.contains(&"metadata.tags.java\u{1f}true".to_owned()), "facets keep both forms");
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
    fn filters_find_an_array_item_in_both_of_backstages_forms() {
        let entries =
            SearchEntries::of(&json!({ "metadata": { "tags": ["java", "v1.2"], "x": { "y": "z" } } }), "0190-uid");
        let finds = |wanted: Vec<String>| wanted.iter().any(|w| entries.filters.contains(w));
        assert!(finds(value_entries("metadata.tags", "java")));
        assert!(finds(value_entries("metadata.tags.java", "true")));
        assert!(finds(value_entries("metadata.tags.v1.2", "true")), "items with dots");
        assert!(finds(presence_entries("metadata.tags.v1.2")));
        assert!(finds(presence_entries("metadata.tags")));
        assert!(!finds(value_entries("metadata.tags.java", "false")));
        assert!(!finds(value_entries("metadata.tags.python", "true")));
        // A scalar is not an array item: Backstage has no `metadata.x.y.z=true`.
        assert!(finds(value_entries("metadata.x.y", "z")));
        assert!(!finds(value_entries("metadata.x.y.z", "true")));
        assert!(!finds(presence_entries("metadata.x.y.z")));
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
