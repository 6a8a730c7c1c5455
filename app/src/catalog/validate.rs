//! Validation of entities with Backstage's rules, returning every problem at once with the
//! field it concerns.

use serde_json::{Map, Value};

use super::refs::{EntityRef, DEFAULT_NAMESPACE};
use super::relations::{relations_of, Relation};

/// An entity that passed validation, with the columns the catalog indexes.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidEntity {
    pub entity_ref: EntityRef,
    /// The entity as stored: server-managed fields (uid, etag, relations, status) removed,
    /// the namespace filled in.
    pub body: Value,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tags: Vec<String>,
    pub relations: Vec<Relation>,
}

/// Checks one entity; on failure lists each problem as `field: message`.
/// Whether a string or key anywhere in `value` holds NUL, which PostgreSQL cannot store in
/// text or JSONB: such input is refused as invalid before it reaches the database.
pub fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

pub fn validate(mut entity: Value) -> Result<ValidEntity, Vec<String>> {
    let mut errors = Vec::new();
    if holds_nul(&entity) {
        return Err(vec!["entity: strings may not contain NUL characters".into()]);
    }
    let Some(root) = entity.as_object_mut() else {
        return Err(vec!["entity: must be a mapping with apiVersion, kind and metadata".into()]);
    };
    // Output-only and server-managed fields are never taken from input.
    root.remove("relations");
    root.remove("status");

    let api_version = string_at(root, "apiVersion");
    match api_version {
        None => errors.push("apiVersion: is required".into()),
        Some(v) if !is_api_version(v) => errors.push(format!("apiVersion: `{v}` is not of the form group/version")),
        _ => {}
    }
    let kind = string_at(root, "kind").map(str::to_owned);
    match &kind {
        None => errors.push("kind: is required".into()),
        Some(k) if !is_kind(k) => errors.push(format!("kind: `{k}` must be letters and digits starting with a letter")),
        _ => {}
    }
    if root.get("spec").is_some_and(|s| !s.is_object()) {
        errors.push("spec: must be a mapping".into());
    }

    let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) else {
        errors.push("metadata: is required and must be a mapping".into());
        return Err(errors);
    };
    metadata.remove("uid");
    metadata.remove("etag");
    let name = string_at(metadata, "name").map(str::to_owned);
    match &name {
        None => errors.push("metadata.name: is required".into()),
        Some(n) if !is_name(n) => {
            errors.push(format!("metadata.name: `{n}` must be 1-63 letters or digits, separated by -, _ or ."))
        }
        _ => {}
    }
    let namespace = match metadata.get("namespace") {
        None => DEFAULT_NAMESPACE.to_owned(),
        Some(Value::String(ns)) if is_namespace(ns) => ns.clone(),
        Some(other) => {
            errors
                .push(format!("metadata.namespace: `{}` must be 1-63 letters or digits, separated by -", plain(other)));
            DEFAULT_NAMESPACE.to_owned()
        }
    };
    metadata.insert("namespace".into(), Value::String(namespace.clone()));
    check_key_values(metadata, "labels", true, &mut errors);
    check_key_values(metadata, "annotations", false, &mut errors);
    let tags = check_tags(metadata, &mut errors);
    check_links(metadata, &mut errors);
    for field in ["title", "description"] {
        if metadata.get(field).is_some_and(|v| !v.is_string()) {
            errors.push(format!("metadata.{field}: must be a string"));
        }
    }
    let title = string_at(metadata, "title").map(str::to_owned);
    let description = string_at(metadata, "description").map(str::to_owned);

    let (Some(kind), Some(name)) = (kind, name) else {
        return Err(errors);
    };
    let spec = root.get("spec").and_then(Value::as_object).cloned().unwrap_or_default();
    check_required_spec(&kind, &spec, &mut errors);
    let relations = relations_of(&kind, &namespace, &spec, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }

    let owner = spec
        .get("owner")
        .and_then(Value::as_str)
        .and_then(|o| EntityRef::parse(o, Some("group"), &namespace).ok())
        .map(|r| r.key());
    let spec_text = |field: &str| spec.get(field).and_then(Value::as_str).map(str::to_owned);
    Ok(ValidEntity {
        entity_ref: EntityRef::new(&kind, &namespace, &name),
        spec_type: spec_text("type"),
        lifecycle: spec_text("lifecycle"),
        body: entity,
        title,
        description,
        owner,
        tags,
        relations,
    })
}

/// Fields each well-known kind must have (descriptor-format.md).
fn check_required_spec(kind: &str, spec: &Map<String, Value>, errors: &mut Vec<String>) {
    let strings: &[&str] = match kind.to_ascii_lowercase().as_str() {
        "component" => &["type", "lifecycle", "owner"],
        // Backstage's schema also wants `definition`, but its own newer examples (MCP servers)
        // omit it, so it is optional here.
        "api" => &["type", "lifecycle", "owner"],
        "resource" => &["type", "owner"],
        "system" | "domain" => &["owner"],
        "group" => &["type"],
        _ => &[],
    };
    for field in strings {
        match spec.get(*field) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(_) => errors.push(format!("spec.{field}: must be a non-empty string")),
            None => errors.push(format!("spec.{field}: is required for kind {kind}")),
        }
    }
    if kind.eq_ignore_ascii_case("group") && !spec.get("children").is_some_and(Value::is_array) {
        errors.push("spec.children: is required for kind Group (a list, possibly empty)".into());
    }
    if kind.eq_ignore_ascii_case("location") && spec.get("target").is_none() && spec.get("targets").is_none() {
        errors.push("spec.target: a Location needs spec.target or spec.targets".into());
    }
}

fn check_key_values(metadata: &Map<String, Value>, field: &str, values_are_names: bool, errors: &mut Vec<String>) {
    let Some(value) = metadata.get(field) else { return };
    let Some(map) = value.as_object() else {
        errors.push(format!("metadata.{field}: must be a mapping"));
        return;
    };
    for (key, value) in map {
        if !is_qualified_key(key) {
            errors.push(format!("metadata.{field}: key `{key}` must be [prefix/]name, e.g. example.com/team"));
        }
        match value {
            Value::String(v) if !values_are_names || v.is_empty() || is_name(v) => {}
            Value::String(v) => errors.push(format!("metadata.{field}.{key}: value `{v}` must be a valid name")),
            _ => errors.push(format!("metadata.{field}.{key}: must be a string")),
        }
    }
}

fn check_tags(metadata: &Map<String, Value>, errors: &mut Vec<String>) -> Vec<String> {
    let Some(value) = metadata.get("tags") else { return Vec::new() };
    let Some(items) = value.as_array() else {
        errors.push("metadata.tags: must be a list".into());
        return Vec::new();
    };
    let mut tags = Vec::new();
    for item in items {
        match item.as_str() {
            Some(tag) if is_tag(tag) => tags.push(tag.to_owned()),
            _ => errors.push(format!("metadata.tags: `{}` must be 1-63 of a-z 0-9 : + #, separated by -", plain(item))),
        }
    }
    tags
}

fn check_links(metadata: &Map<String, Value>, errors: &mut Vec<String>) {
    let Some(value) = metadata.get("links") else { return };
    let Some(links) = value.as_array() else {
        errors.push("metadata.links: must be a list".into());
        return;
    };
    for (i, link) in links.iter().enumerate() {
        if !link.get("url").is_some_and(Value::is_string) {
            errors.push(format!("metadata.links[{i}].url: is required"));
        }
    }
}

fn string_at<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn plain(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

/// `[a-zA-Z0-9]` runs separated by single `-`, `_` or `.`, 1 to 63 characters.
fn is_name(s: &str) -> bool {
    separated(s, 63, |c| c.is_ascii_alphanumeric(), |c| matches!(c, '-' | '_' | '.'))
}

fn is_namespace(s: &str) -> bool {
    separated(s, 63, |c| c.is_ascii_alphanumeric(), |c| c == '-')
}

fn is_tag(s: &str) -> bool {
    separated(s, 63, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '+' | '#'), |c| c == '-')
}

fn is_kind(s: &str) -> bool {
    s.len() <= 63 && s.starts_with(|c: char| c.is_ascii_alphabetic()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_api_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    matches!(parts.len(), 1 | 2)
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')))
}

/// Label/annotation keys: an optional DNS-like prefix (lower case, ≤ 253) and a name.
fn is_qualified_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => {
            prefix.len() <= 253
                && separated(prefix, 253, |c| c.is_ascii_lowercase() || c.is_ascii_digit(), |c| matches!(c, '-' | '.'))
                && is_name(name)
        }
        None => is_name(s),
    }
}

fn separated(s: &str, max: usize, word: impl Fn(char) -> bool, separator: impl Fn(char) -> bool) -> bool {
    if s.is_empty() || s.len() > max {
        return false;
    }
    let mut previous_was_separator = true;
    for c in s.chars() {
        if separator(c) {
            if previous_was_separator {
                return false;
            }
            previous_was_separator = true;
        } else if word(c) {
            previous_was_separator = false;
        } else {
            return false;
        }
    }
    !previous_was_separator
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component(metadata: Value, spec: Value) -> Value {
        json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": metadata, "spec": spec })
    }

    #[test]
    fn a_well_formed_component_is_accepted_and_defaults_its_namespace() {
        let valid = validate(component(
            json!({ "name": "petstore", "tags": ["java", "c++"], "labels": {"example.com/tier": "gold"}, "uid": "x" }),
            json!({ "type": "service", "lifecycle": "production", "owner": "team-a", "system": "pets" }),
        ))
        .unwrap();
        assert_eq!(valid.entity_ref.key(), "component:default/petstore");
        assert_eq!(valid.owner.as_deref(), Some("group:default/team-a"));
        assert_eq!(valid.body["metadata"]["namespace"], "default");
        assert!(valid.body["metadata"].get("uid").is_none(), "uid is server-managed");
        assert_eq!(valid.tags, vec!["java", "c++"]);
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let errors = validate(component(
            json!({ "name": "-bad-", "namespace": "a_b", "tags": ["UPPER"], "links": [{"title": "x"}],
                    "labels": {"Bad Key": "v"} }),
            json!({ "type": "service" }),
        ))
        .unwrap_err();
        for expected in [
            "metadata.name",
            "metadata.namespace",
            "metadata.tags",
            "metadata.links[0].url",
            "metadata.labels",
            "spec.lifecycle",
            "spec.owner",
        ] {
            assert!(errors.iter().any(|e| e.starts_with(expected)), "{expected} missing in {errors:?}");
        }
    }

    #[test]
    fn names_follow_backstage_rules() {
        for ok in ["a", "petstore", "my_service.v2", "A-1", &"x".repeat(63)] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "a b", &"x".repeat(64), "ä"] {
            assert!(!is_name(bad), "{bad}");
        }
        assert!(is_tag("c++") && is_tag("java:17") && !is_tag("Java"));
        assert!(is_qualified_key("backstage.io/techdocs-ref") && !is_qualified_key("Backstage.io/x"));
    }

    #[test]
    fn unknown_kinds_are_stored_as_they_are() {
        let valid = validate(json!({ "apiVersion": "example.com/v1", "kind": "AiResource",
            "metadata": { "name": "skill" }, "spec": { "anything": [1, 2] } }))
        .unwrap();
        assert_eq!(valid.entity_ref.key(), "airesource:default/skill");
        assert_eq!(valid.body["spec"]["anything"], json!([1, 2]));
    }
}
