//! Entities as JSON text. Each entity is stored as the document the API serves (its
//! `metadata.uid` and `metadata.etag` included), so a read sends the stored bytes with the
//! relations appended: no parse and print of every document per request, which made a page
//! of APIs with their definitions slower than PostgreSQL reading it.

use serde_json::Value;
use uuid::Uuid;

/// The text stored for an entity: the validated body (which has no server-managed fields)
/// with its uid and etag.
pub fn stored(id: Uuid, etag: &str, body: &Value) -> String {
    let mut document = body.clone();
    if let Some(metadata) = document.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("uid".into(), Value::String(id.to_string()));
        metadata.insert("etag".into(), Value::String(etag.to_owned()));
    }
    document.to_string()
}

/// The body as validated (and as the editor shows it) from a stored document: without the
/// server-managed uid and etag.
pub fn body(document: &str) -> Value {
    let mut body: Value = serde_json::from_str(document).unwrap_or(Value::Null);
    if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("uid");
        metadata.remove("etag");
    }
    body
}

/// One entity as the API serves it: JSON text, only ever made from a stored document and
/// serialised relations, so it needs no checking before it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityJson(String);

impl EntityJson {
    /// The stored document with `relations` (source, type, target) added as Backstage serves them.
    pub fn served(document: &str, relations: &[&(String, String, String)]) -> Self {
        // A stored document is a JSON object with at least apiVersion, kind and metadata, and
        // never a `relations` member (validation removes it): the member goes before its `}`.
        let open = document.trim_end().strip_suffix('}').unwrap_or("{");
        let mut text = Vec::with_capacity(open.len() + 16 + relations.len() * 160);
        text.extend_from_slice(open.as_bytes());
        if !open.trim_end().ends_with('{') {
            text.push(b',');
        }
        // Written here rather than through serde: a page of APIs serves thousands of relations,
        // and they were a tenth of its time.
        text.extend_from_slice(b"\"relations\":[");
        for (i, (_, relation, target)) in relations.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend_from_slice(b"{\"type\":");
            json_string(&mut text, relation);
            text.extend_from_slice(b",\"targetRef\":");
            json_string(&mut text, target);
            text.extend_from_slice(b",\"target\":");
            match target_parts(target) {
                Some((kind, namespace, name)) => {
                    text.extend_from_slice(b"{\"kind\":");
                    json_string(&mut text, kind);
                    text.extend_from_slice(b",\"namespace\":");
                    json_string(&mut text, namespace);
                    text.extend_from_slice(b",\"name\":");
                    json_string(&mut text, name);
                    text.push(b'}');
                }
                None => text.extend_from_slice(b"null"),
            }
            text.push(b'}');
        }
        text.extend_from_slice(b"]}");
        Self(String::from_utf8(text).expect("JSON text made of UTF-8 parts"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).expect("served entities are JSON made by this module")
    }

    /// Only the given dotted paths (`fields=kind,metadata.name`), or the whole entity when none.
    pub fn project(self, fields: &[String]) -> Self {
        if fields.is_empty() {
            return self;
        }
        Self(projected(&self.to_value(), fields).to_string())
    }
}

/// `text` as a JSON string, as serde_json writes it: copied as it is unless it has a quote, a
/// backslash or a control character (refs and relation types hardly ever do).
fn json_string(out: &mut Vec<u8>, text: &str) {
    match text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        true => serde_json::to_writer(&mut *out, text).expect("strings serialise to memory"),
        false => {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        }
    }
}

/// Kind, namespace and name of a stored relation target (`kind:namespace/name`), read as
/// `EntityRef::parse` reads it but without copying: a page of APIs serves thousands.
fn target_parts(target: &str) -> Option<(&str, &str, &str)> {
    let (kind, rest) = target.trim().split_once(':')?;
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    let valid = !kind.is_empty() && !namespace.is_empty() && !name.is_empty() && !name.contains(['/', ':']);
    valid.then_some((kind, namespace, name))
}

/// Keeps only the given dotted paths of an entity.
fn projected(entity: &Value, fields: &[String]) -> Value {
    let mut out = Value::Object(Default::default());
    for field in fields {
        let path: Vec<&str> = field.split('.').collect();
        if let Some(value) = path.iter().try_fold(entity, |v, key| v.get(key)) {
            let mut target = &mut out;
            for key in &path[..path.len() - 1] {
                target = target
                    .as_object_mut()
                    .expect("projection builds objects only")
                    .entry(key.to_string())
                    .or_insert_with(|| Value::Object(Default::default()));
            }
            if let Some(map) = target.as_object_mut() {
                map.insert(path[path.len() - 1].to_owned(), value.clone());
            }
        }
    }
    out
}

/// A JSON array of the items, each `null` when absent.
pub fn array<'a>(items: impl IntoIterator<Item = Option<&'a EntityJson>, IntoIter: Clone>) -> String {
    let items = items.into_iter();
    // Sized once: a page of large entities is megabytes, and each doubling would copy it.
    let size = items.clone().map(|item| item.map_or(4, |e| e.0.len()) + 1).sum::<usize>() + 2;
    let mut text = String::with_capacity(size);
    text.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(item.map_or("null", EntityJson::as_str));
    }
    text.push(']');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::refs::EntityRef;
    use serde_json::json;

    #[test]
    fn relation_targets_read_as_entity_refs_do() {
        for target in ["component:default/a", "api:ns/b-c", "group:x", "nokind", "a:b/c/d", ":default/x", "k:/n"] {
            let parsed = EntityRef::parse(target, None, "default").ok();
            let expected = parsed.as_ref().map(|r| (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()));
            assert_eq!(target_parts(target), expected, "{target}");
        }
    }

    fn relation(target: &str) -> (String, String, String) {
        ("component:default/a".into(), "ownedBy".into(), target.into())
    }

    #[test]
    fn served_documents_are_the_stored_ones_with_relations() {
        let body = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                           "metadata": { "name": "a", "namespace": "default" }, "spec": { "owner": "team-x" } });
        let id = Uuid::now_v7();
        let document = stored(id, "e1", &body);
        let owned = relation("group:default/team-x");
        let served = EntityJson::served(&document, &[&owned]).to_value();
        assert_eq!(served["metadata"]["uid"], id.to_string());
        assert_eq!(served["metadata"]["etag"], "e1");
        assert_eq!(served["relations"][0]["targetRef"], "group:default/team-x");
        assert_eq!(served["relations"][0]["target"]["kind"], "group");
        assert_eq!(super::body(&document), body, "the body comes back without uid and etag");
        let none = EntityJson::served(&document, &[]).to_value();
        assert_eq!(none["relations"], json!([]));
    }

    #[test]
    fn relations_are_written_as_serde_json_writes_them() {
        let document = stored(Uuid::nil(), "e", &json!({ "kind": "API", "metadata": { "name": "x" } }));
        let odd = ["group:default/a\"b", "user:ns/back\\slash\n", "nokind", "api:default/é–ü"];
        let relations: Vec<(String, String, String)> =
            odd.iter().map(|t| ("api:default/x".to_owned(), "dependsOn\t".to_owned(), (*t).to_owned())).collect();
        let served = EntityJson::served(&document, &relations.iter().collect::<Vec<_>>());
        let expected: Vec<Value> = odd
            .iter()
            .map(|t| {
                let target = target_parts(t)
                    .map(|(kind, namespace, name)| json!({ "kind": kind, "namespace": namespace, "name": name }));
                json!({ "type": "dependsOn\t", "targetRef": t, "target": target })
            })
            .collect();
        assert_eq!(served.to_value()["relations"], Value::Array(expected.clone()));
        // Strings that need escaping are escaped as serde_json does; the rest are copied.
        let written = served.as_str();
        assert!(written.contains(r#"{"type":"dependsOn\t","targetRef":"group:default/a\"b","target":{"kind":"group","namespace":"default","name":"a\"b"}}"#), "{written}");
        assert!(written.contains(r#""targetRef":"api:default/é–ü""#), "{written}");
    }

    #[test]
    fn projections_and_arrays() {
        let document = stored(Uuid::nil(), "e", &json!({ "kind": "API", "metadata": { "name": "x", "tags": ["a"] } }));
        let served = EntityJson::served(&document, &[]);
        let only = served.clone().project(&["metadata.name".into(), "spec.type".into()]);
        assert_eq!(only.to_value(), json!({ "metadata": { "name": "x" } }));
        assert_eq!(served.clone().project(&[]), served);
        let listed: Value = serde_json::from_str(&array([Some(&only), None])).unwrap();
        assert_eq!(listed, json!([{ "metadata": { "name": "x" } }, null]));
        assert_eq!(array([]), "[]");
    }
}
