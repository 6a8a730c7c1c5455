//! Catalog queries in Backstage's filter language: each `filter` parameter is a set of
//! comma-separated `key[=value]` conditions that must all hold; several `filter` parameters
//! are alternatives. Keys are dotted paths (`spec.type`, `metadata.tags.java`) or
//! `relations.<type>`; matching is case-insensitive.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// Lower-cased dotted path.
    pub key: String,
    /// Lower-cased value; `None` means "the key exists".
    pub value: Option<String>,
}

/// Alternatives of conjunctions; empty means "every entity".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter(pub Vec<Vec<Condition>>);

impl Filter {
    pub fn parse<'a>(params: impl IntoIterator<Item = &'a str>) -> Result<Self, AppError> {
        let mut alternatives = Vec::new();
        for param in params {
            let mut all = Vec::new();
            for part in param.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (key, value) = match part.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().to_lowercase())),
                    None => (part, None),
                };
                if key.is_empty() {
                    return Err(AppError::invalid(format!("filter condition `{part}` has no key")));
                }
                all.push(Condition { key: key.to_lowercase(), value });
            }
            if !all.is_empty() {
                alternatives.push(all);
            }
        }
        Ok(Self(alternatives))
    }

    pub fn and(mut self, condition: Condition) -> Self {
        if self.0.is_empty() {
            self.0.push(vec![condition]);
        } else {
            for all in &mut self.0 {
                all.push(condition.clone());
            }
        }
        self
    }
}

/// Columns the catalog can sort by (dotted Backstage paths mapped to indexed columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortField {
    Name,
    Kind,
    Namespace,
    Title,
    Type,
    Lifecycle,
    Owner,
}

impl SortField {
    pub fn parse(path: &str) -> Result<Self, AppError> {
        Ok(match path.trim().to_lowercase().as_str() {
            "metadata.name" | "name" => SortField::Name,
            "kind" => SortField::Kind,
            "metadata.namespace" | "namespace" => SortField::Namespace,
            "metadata.title" | "title" => SortField::Title,
            "spec.type" | "type" => SortField::Type,
            "spec.lifecycle" | "lifecycle" => SortField::Lifecycle,
            "spec.owner" | "owner" => SortField::Owner,
            other => {
                return Err(AppError::invalid(format!(
                    "cannot order by `{other}`; use metadata.name, metadata.namespace, metadata.title, kind, spec.type, spec.lifecycle or spec.owner"
                )))
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

/// Backstage's filter predicates (`POST /entities/by-query`): `{"kind": "component"}`,
/// `{"metadata.tags": {"$in": ["java"]}}`, `{"spec.owner": {"$exists": true}}`, combined
/// with `$all`, `$any` and `$not`. Keys and values compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Predicate {
    All(Vec<Predicate>),
    Any(Vec<Predicate>),
    Not(Box<Predicate>),
    Equals(String, String),
    In(String, Vec<String>),
    Exists(String, bool),
}

impl Predicate {
    pub fn parse(value: &serde_json::Value) -> Result<Self, AppError> {
        use serde_json::Value;
        let invalid = |m: String| AppError::invalid(format!("query: {m}"));
        let Value::Object(map) = value else { return Err(invalid(format!("expected an object, got {value}"))) };
        let mut all = Vec::new();
        for (key, operand) in map {
            all.push(match key.as_str() {
                "$all" | "$any" => {
                    let items = operand.as_array().ok_or_else(|| invalid(format!("{key} takes a list")))?;
                    let parsed = items.iter().map(Self::parse).collect::<Result<Vec<_>, _>>()?;
                    if key == "$all" {
                        Predicate::All(parsed)
                    } else {
                        Predicate::Any(parsed)
                    }
                }
                "$not" => Predicate::Not(Box::new(Self::parse(operand)?)),
                other if other.starts_with('$') => return Err(invalid(format!("unsupported operator {other}"))),
                field => {
                    let field = field.to_lowercase();
                    match operand {
                        Value::Object(op) if op.len() == 1 && op.contains_key("$in") => {
                            let values = op["$in"].as_array().ok_or_else(|| invalid("$in takes a list".into()))?;
                            Predicate::In(field, values.iter().map(scalar).collect::<Result<_, _>>()?)
                        }
                        Value::Object(op) if op.len() == 1 && op.contains_key("$exists") => Predicate::Exists(
                            field,
                            op["$exists"].as_bool().ok_or_else(|| invalid("$exists takes true or false".into()))?,
                        ),
                        Value::Object(op) => {
                            return Err(invalid(format!(
                                "unsupported condition on {field}: {}",
                                Value::Object(op.clone())
                            )))
                        }
                        other => Predicate::Equals(field, scalar(other)?),
                    }
                }
            });
        }
        Ok(if all.len() == 1 { all.pop().expect("one") } else { Predicate::All(all) })
    }
}

fn scalar(value: &serde_json::Value) -> Result<String, AppError> {
    match value {
        serde_json::Value::String(s) => Ok(s.to_lowercase()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(AppError::invalid(format!("query: values must be strings, numbers or booleans, got {other}"))),
    }
}

/// One page of a catalog query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityQuery {
    pub filter: Filter,
    #[serde(default)]
    pub predicate: Option<Predicate>,
    pub full_text: Option<String>,
    pub sort: Vec<Sort>,
    pub offset: i64,
    pub limit: i64,
}

pub const MAX_PAGE: i64 = 1000;

/// Turns free text into a prefix-matching tsquery (`pet sto` → `pet:* & sto:*`), keeping only
/// letters and digits so user input can never be tsquery syntax.
pub fn prefix_tsquery(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| format!("{}:*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_filters_are_alternatives_and_commas_conjunctions() {
        let f = Filter::parse(["kind=Component,spec.type=service", "kind=api"]).unwrap();
        assert_eq!(f.0.len(), 2);
        assert_eq!(f.0[0][1], Condition { key: "spec.type".into(), value: Some("service".into()) });
        assert_eq!(f.0[1][0].value.as_deref(), Some("api"));
        let exists = Filter::parse(["metadata.annotations.backstage.io/orphan"]).unwrap();
        assert_eq!(exists.0[0][0].value, None);
        assert!(Filter::parse(["=x"]).is_err());
    }

    #[test]
    fn predicates_parse_into_a_tree() {
        let p = Predicate::parse(&serde_json::json!({
            "$all": [{ "kind": "Component" }, { "metadata.tags": { "$in": ["Java", "go"] } }, { "$not": { "spec.owner": { "$exists": true } } }]
        }))
        .unwrap();
        assert_eq!(
            p,
            Predicate::All(vec![
                Predicate::Equals("kind".into(), "component".into()),
                Predicate::In("metadata.tags".into(), vec!["java".into(), "go".into()]),
                Predicate::Not(Box::new(Predicate::Exists("spec.owner".into(), true))),
            ])
        );
        assert!(Predicate::parse(&serde_json::json!({ "kind": { "$regex": "x" } })).is_err());
        assert!(Predicate::parse(&serde_json::json!({ "$nor": [] })).is_err());
    }

    #[test]
    fn free_text_becomes_a_safe_prefix_query() {
        assert_eq!(prefix_tsquery("Pet sto!").as_deref(), Some("pet:* & sto:*"));
        assert_eq!(prefix_tsquery("':*|&"), None);
    }
}
