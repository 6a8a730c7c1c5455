//! Entity references (`kind:namespace/name`) with Backstage's defaulting rules.

use serde::{Deserialize, Serialize};

pub const DEFAULT_NAMESPACE: &str = "default";

/// A reference to an entity. Comparisons are case-insensitive, so the canonical `key` is
/// lower-cased; the display form keeps the namespace and name as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl EntityRef {
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self { kind: kind.to_owned(), namespace: namespace.to_owned(), name: name.to_owned() }
    }

    /// Parses `[kind:][namespace/]name`. A missing kind takes `default_kind` (an error if
    /// there is none); a missing namespace takes `default_namespace`.
    pub fn parse(raw: &str, default_kind: Option<&str>, default_namespace: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (kind, rest) = match raw.split_once(':') {
            Some((kind, rest)) => (Some(kind), rest),
            None => (None, raw),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((namespace, name)) => (namespace, name),
            None => (default_namespace, rest),
        };
        let kind = match kind.or(default_kind) {
            Some(kind) if !kind.is_empty() => kind,
            _ => return Err(format!("entity reference `{raw}` needs a kind, e.g. `component:{raw}`")),
        };
        if name.is_empty() || namespace.is_empty() || name.contains(['/', ':']) {
            return Err(format!("`{raw}` is not an entity reference of the form kind:namespace/name"));
        }
        Ok(Self::new(kind, namespace, name))
    }

    /// The lower-cased form used for storage, lookups and relation targets.
    pub fn key(&self) -> String {
        let parts = [self.kind.as_str(), ":", self.namespace.as_str(), "/", self.name.as_str()];
        if !parts.iter().all(|p| p.is_ascii()) {
            // Whole, for Unicode's context-dependent lower case (a final sigma).
            return parts.concat().to_lowercase();
        }
        // An import makes this key for every entity and relation: one allocation each.
        let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            key.extend(part.chars().map(|c| c.to_ascii_lowercase()));
        }
        key
    }

    /// The path of the entity's page in the portal.
    pub fn page_path(&self) -> String {
        format!("/catalog/{}/{}/{}", self.namespace, self.kind.to_lowercase(), self.name)
    }
}

impl std::fmt::Display for EntityRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.kind.to_lowercase(), self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_refs_take_the_default_kind_and_namespace() {
        let r = EntityRef::parse("team-a", Some("Group"), "prod").unwrap();
        assert_eq!(r.key(), "group:prod/team-a");
        let r = EntityRef::parse("user:guest", Some("Group"), "default").unwrap();
        assert_eq!(r.key(), "user:default/guest");
        let r = EntityRef::parse("Component:Ops/Petstore", None, "default").unwrap();
        assert_eq!(r.to_string(), "component:Ops/Petstore");
        assert_eq!(r.key(), "component:ops/petstore");
        // Beyond ASCII the key is lower-cased as a whole, a word-final sigma included.
        assert_eq!(EntityRef::new("Component", "default", "ΟΔΟΣ").key(), "component:default/οδος");
    }

    #[test]
    fn refs_without_a_kind_need_a_default() {
        assert!(EntityRef::parse("db", None, "default").is_err());
        assert!(EntityRef::parse("resource:", None, "default").is_err());
        assert!(EntityRef::parse("a:b/c/d", None, "default").is_err());
    }
}
