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

/// The entities a query selects when it selects by kind alone (or not at all): its counts and
/// facets are then read from the counts the writes keep (`entity_facet_counts`), not computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindScope {
    Every,
    /// Lower-cased kinds.
    Kinds(Vec<String>),
}

impl KindScope {
    fn union(self, other: Self) -> Self {
        match (self, other) {
            (KindScope::Kinds(mut a), KindScope::Kinds(b)) => {
                a.extend(b);
                KindScope::Kinds(a)
            }
            _ => KindScope::Every,
        }
    }
}

/// A condition the catalog list adds for "a deployment failed in the last 24 hours": its
/// matches change with CI/CD events, not with the catalog, so no cache keeps its counts.
pub const RECENTLY_FAILED_DEPLOYMENT: &str = "beacon.deployment.failed-24h";

/// The SQL of that condition on the `entities` table (`deployments` names the entities).
#[cfg(feature = "ssr")]
pub const RECENTLY_FAILED_DEPLOYMENT_SQL: &str = "entity_ref IN (SELECT unnest(entity_refs) FROM deployments \
     WHERE status = 'failure' AND kind = 'deployment' AND finished_at > now() - interval '24 hours')";

impl Filter {
    /// Whether the matching entities can change while the catalog does not.
    pub fn is_volatile(&self) -> bool {
        self.0.iter().flatten().any(|c| c.key == RECENTLY_FAILED_DEPLOYMENT)
    }

    /// `Some` when every condition is on `kind`: a set's kind values are alternatives (a bare
    /// `kind` alone holds for every entity), and so are the sets.
    pub fn kind_scope(&self) -> Option<KindScope> {
        let mut scope: Option<KindScope> = None;
        for all in &self.0 {
            if all.iter().any(|c| c.key != "kind") {
                return None;
            }
            let kinds: Vec<String> = all.iter().filter_map(|c| c.value.clone()).collect();
            let set = if kinds.is_empty() { KindScope::Every } else { KindScope::Kinds(kinds) };
            scope = Some(match scope {
                Some(scope) => scope.union(set),
                None => set,
            });
        }
        Some(scope.unwrap_or(KindScope::Every))
    }
}

impl Predicate {
    fn kind_scope(&self) -> Option<KindScope> {
        match self {
            Predicate::Equals(key, value) if key == "kind" => Some(KindScope::Kinds(vec![value.clone()])),
            Predicate::In(key, values) if key == "kind" => Some(KindScope::Kinds(values.clone())),
            Predicate::Exists(key, true) if key == "kind" => Some(KindScope::Every),
            Predicate::Any(items) | Predicate::All(items) if items.len() == 1 => items[0].kind_scope(),
            Predicate::Any(items) if !items.is_empty() => {
                items.iter().map(Self::kind_scope).reduce(|a, b| Some(a?.union(b?)))?
            }
            _ => None,
        }
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
    /// Never in a cursor (the one serialised form of a query): as in Backstage, every page
    /// request gives its own limit.
    #[serde(skip)]
    pub limit: i64,
}

pub const MAX_PAGE: i64 = 1000;

/// Bounds on one query, whatever way it arrives (parameters, a JSON body or a cursor anyone can
/// write). Far above what Backstage's frontend and catalog-client send (a catalog page uses a
/// handful of conditions and one or two sort keys); they keep the work of building, planning and
/// running one query small. `GET /entities` without paging answers up to `MAX_LIMIT` entities.
pub const MAX_CONDITIONS: usize = 50;
pub const MAX_PREDICATE_NODES: usize = 100;
pub const MAX_PREDICATE_DEPTH: usize = 8;
pub const MAX_LIMIT: i64 = 10_000;
pub const MAX_OFFSET: i64 = 1_000_000;
/// Characters of a full-text term (only its first 8 words are searched).
pub const MAX_TERM_CHARS: usize = 200;
/// Entries of `fields` (projections), each at most `MAX_FIELD_CHARS` long.
pub const MAX_FIELDS: usize = 100;
pub const MAX_FIELD_CHARS: usize = 200;
/// Entity refs of one `by-refs` request.
pub const MAX_REFS: usize = 1_000;
/// Facets asked in one `entity-facets` request.
pub const MAX_FACETS: usize = 20;

/// The `fields` of a request (a projection of each entity), or why they cannot be served.
pub fn check_fields(fields: &[String]) -> Result<(), AppError> {
    if fields.len() > MAX_FIELDS {
        return Err(AppError::invalid(format!("at most {MAX_FIELDS} fields per request")));
    }
    check_paths("fields", fields)
}

/// The facets of an `entity-facets` request, or why they cannot be served.
pub fn check_facets(facets: &[String]) -> Result<(), AppError> {
    if facets.is_empty() {
        return Err(AppError::invalid("at least one facet is required"));
    }
    if facets.len() > MAX_FACETS {
        return Err(AppError::invalid(format!("at most {MAX_FACETS} facets per request")));
    }
    check_paths("facets", facets)
}

fn check_paths(what: &str, paths: &[String]) -> Result<(), AppError> {
    match paths.iter().find(|p| p.chars().count() > MAX_FIELD_CHARS || p.contains('\0')) {
        Some(_) => Err(AppError::invalid(format!(
            "{what} are entity paths of at most {MAX_FIELD_CHARS} characters, without NUL bytes"
        ))),
        None => Ok(()),
    }
}

impl EntityQuery {
    /// The query as it may run, or why it may not. Sort keys after a field's first mention are
    /// dropped (they cannot change the order, and each one used to double the cost of building
    /// the query), so at most one key per sortable column remains.
    pub fn checked(mut self) -> Result<Self, AppError> {
        let invalid = |m: String| Err(AppError::invalid(m));
        let mut seen = Vec::new();
        self.sort.retain(|s| {
            let first = !seen.contains(&s.field);
            seen.push(s.field);
            first
        });
        if !(0..=MAX_OFFSET).contains(&self.offset) {
            return invalid(format!("offset must be between 0 and {MAX_OFFSET}"));
        }
        if !(0..=MAX_LIMIT).contains(&self.limit) {
            return invalid(format!("limit must be between 0 and {MAX_LIMIT}"));
        }
        if self.full_text.as_ref().is_some_and(|t| t.chars().count() > MAX_TERM_CHARS) {
            return invalid(format!("full-text terms may be at most {MAX_TERM_CHARS} characters"));
        }
        let conditions: Vec<&Condition> = self.filter.0.iter().flatten().collect();
        if conditions.len() > MAX_CONDITIONS {
            return invalid(format!("a query may hold at most {MAX_CONDITIONS} filter conditions"));
        }
        let mut texts: Vec<&str> = self.full_text.iter().map(String::as_str).collect();
        for c in &conditions {
            texts.push(&c.key);
            texts.extend(c.value.as_deref());
        }
        if let Some(predicate) = &self.predicate {
            let (nodes, depth) = predicate.size();
            if nodes > MAX_PREDICATE_NODES || depth > MAX_PREDICATE_DEPTH {
                return invalid(format!(
                    "a query may hold at most {MAX_PREDICATE_NODES} conditions nested at most {MAX_PREDICATE_DEPTH} deep"
                ));
            }
            predicate.texts(&mut texts);
        }
        // PostgreSQL cannot store or compare text with NUL bytes: an input error, said so.
        if texts.iter().any(|t| t.contains('\0')) {
            return invalid("filters, queries and search terms may not contain NUL bytes".into());
        }
        Ok(self)
    }
}

impl EntityQuery {
    /// The kinds the query selects, when kinds are all it selects by (no other condition, no
    /// full-text term).
    pub fn kind_scope(&self) -> Option<KindScope> {
        if self.full_text.is_some() {
            return None;
        }
        match (self.filter.kind_scope()?, &self.predicate) {
            (scope, None) => Some(scope),
            (KindScope::Every, Some(predicate)) => predicate.kind_scope(),
            (KindScope::Kinds(_), Some(_)) => None,
        }
    }
}

impl Predicate {
    /// (nodes, depth); an `$in` counts each of its values.
    fn size(&self) -> (usize, usize) {
        match self {
            Predicate::All(items) | Predicate::Any(items) => {
                items.iter().map(Self::size).fold((1, 1), |(n, d), (cn, cd)| (n + cn, d.max(cd + 1)))
            }
            Predicate::Not(inner) => {
                let (n, d) = inner.size();
                (n + 1, d + 1)
            }
            Predicate::In(_, values) => (1 + values.len(), 1),
            Predicate::Equals(..) | Predicate::Exists(..) => (1, 1),
        }
    }

    fn texts<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Predicate::All(items) | Predicate::Any(items) => items.iter().for_each(|p| p.texts(out)),
            Predicate::Not(inner) => inner.texts(out),
            Predicate::Equals(key, value) => out.extend([key.as_str(), value.as_str()]),
            Predicate::In(key, values) => {
                out.push(key);
                out.extend(values.iter().map(String::as_str));
            }
            Predicate::Exists(key, _) => out.push(key),
        }
    }
}

/// Turns free text into a prefix-matching tsquery (`pet sto` → `pet:* & sto:*`), keeping only
/// letters and digits so user input can never be tsquery syntax.
pub fn prefix_tsquery(text: &str) -> Option<String> {
    words_tsquery(text, ":*")
}

/// The same words matched whole (`pet sto` → `pet & sto`): what it matches, the prefixes match too.
pub fn whole_words_tsquery(text: &str) -> Option<String> {
    words_tsquery(text, "")
}

fn words_tsquery(text: &str, suffix: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| format!("{}{suffix}", w.to_lowercase()))
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
    fn queries_by_kind_alone_have_a_kind_scope() {
        let scope = |filters: &[&str], predicate: Option<serde_json::Value>, text: Option<&str>| {
            EntityQuery {
                filter: Filter::parse(filters.iter().copied()).unwrap(),
                predicate: predicate.map(|p| Predicate::parse(&p).unwrap()),
                full_text: text.map(str::to_owned),
                ..EntityQuery::default()
            }
            .kind_scope()
        };
        let kinds = |k: &[&str]| Some(KindScope::Kinds(k.iter().map(|s| s.to_string()).collect()));
        assert_eq!(scope(&[], None, None), Some(KindScope::Every));
        assert_eq!(scope(&["kind=Group,kind=Domain"], None, None), kinds(&["group", "domain"]));
        assert_eq!(scope(&["kind=group", "kind=api"], None, None), kinds(&["group", "api"]));
        assert_eq!(scope(&["kind=group", "kind"], None, None), Some(KindScope::Every));
        assert_eq!(scope(&["kind=component,spec.type=service"], None, None), None);
        assert_eq!(scope(&["kind=component"], None, Some("pay")), None);
        let predicate = serde_json::json!({ "kind": { "$in": ["API", "Component"] } });
        assert_eq!(scope(&[], Some(predicate), None), kinds(&["api", "component"]));
        let any = serde_json::json!({ "$any": [{ "kind": "api" }, { "kind": "group" }] });
        assert_eq!(scope(&[], Some(any), None), kinds(&["api", "group"]));
        assert_eq!(scope(&[], Some(serde_json::json!({ "$not": { "kind": "api" } })), None), None);
        assert_eq!(scope(&["kind=api"], Some(serde_json::json!({ "kind": "api" })), None), None);
    }

    #[test]
    fn repeated_sort_keys_collapse_to_one_per_column() {
        let name = Sort { field: SortField::Name, descending: false };
        let kind = Sort { field: SortField::Kind, descending: true };
        let mut sort = vec![name; 200];
        sort.insert(1, kind);
        sort.push(Sort { field: SortField::Name, descending: true });
        let q = EntityQuery { sort, limit: 20, ..EntityQuery::default() }.checked().unwrap();
        assert_eq!(q.sort, vec![name, kind]);
    }

    #[test]
    fn bounds_hold_at_the_limit_and_refuse_past_it() {
        let at = |conditions: usize| EntityQuery {
            filter: Filter(vec![vec![Condition { key: "metadata.name".into(), value: Some("x".into()) }; conditions]]),
            limit: 20,
            ..EntityQuery::default()
        };
        assert!(at(MAX_CONDITIONS).checked().is_ok());
        assert!(at(MAX_CONDITIONS + 1).checked().is_err());
        let paged = |offset, limit| EntityQuery { offset, limit, ..EntityQuery::default() }.checked();
        assert!(paged(MAX_OFFSET, MAX_LIMIT).is_ok());
        assert!(paged(-1, 20).is_err());
        assert!(paged(0, -1).is_err());
        assert!(paged(0, MAX_LIMIT + 1).is_err());
        assert!(paged(MAX_OFFSET + 1, 20).is_err());
        let nested = |depth: usize| {
            let mut p = Predicate::Equals("kind".into(), "api".into());
            for _ in 1..depth {
                p = Predicate::Not(Box::new(p));
            }
            EntityQuery { predicate: Some(p), limit: 20, ..EntityQuery::default() }.checked()
        };
        assert!(nested(MAX_PREDICATE_DEPTH).is_ok());
        assert!(nested(MAX_PREDICATE_DEPTH + 1).is_err());
        let values = |n: usize| Predicate::In("kind".into(), vec!["api".into(); n]);
        let wide = |n| EntityQuery { predicate: Some(values(n)), limit: 20, ..EntityQuery::default() }.checked();
        assert!(wide(MAX_PREDICATE_NODES - 1).is_ok());
        assert!(wide(MAX_PREDICATE_NODES).is_err());
    }

    #[test]
    fn fields_facets_and_terms_are_bounded() {
        let paths = |n: usize, len: usize| vec!["m".repeat(len); n];
        assert!(check_fields(&paths(MAX_FIELDS, MAX_FIELD_CHARS)).is_ok());
        assert!(check_fields(&paths(MAX_FIELDS + 1, 4)).is_err());
        assert!(check_fields(&paths(1, MAX_FIELD_CHARS + 1)).is_err());
        assert!(check_facets(&paths(MAX_FACETS, 4)).is_ok());
        assert!(check_facets(&paths(MAX_FACETS + 1, 4)).is_err());
        assert!(check_facets(&[]).is_err());
        assert!(check_facets(&["kind\0".into()]).is_err());
        let term = |n: usize| EntityQuery { full_text: Some("é".repeat(n)), limit: 20, ..EntityQuery::default() };
        assert!(term(MAX_TERM_CHARS).checked().is_ok());
        assert!(term(MAX_TERM_CHARS + 1).checked().is_err());
    }

    #[test]
    fn nul_bytes_are_input_errors() {
        let filter = Filter::parse(["kind=\0"]).unwrap();
        assert!(EntityQuery { filter, limit: 20, ..EntityQuery::default() }.checked().is_err());
        let text = EntityQuery { full_text: Some("a\0b".into()), limit: 20, ..EntityQuery::default() };
        assert!(text.checked().is_err());
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
        assert_eq!(whole_words_tsquery("Pet sto!").as_deref(), Some("pet & sto"));
    }
}
