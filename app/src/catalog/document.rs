//! Entities as JSON text. Each entity is stored as the document the API serves (its
//! `metadata.uid` and `metadata.etag` included), so a read sends the stored bytes with the
//! relations appended: no parse and print of every document per request, which made a page
//! of APIs with their definitions slower than PostgreSQL reading it.

use std::collections::BTreeMap;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The text stored for an entity: the validated body (which has no server-managed fields)
/// with its uid and etag.
pub fn stored(id: Uuid, etag: &str, body: &Value) -> String {
    let Some((root, metadata)) = body.as_object().and_then(|root| Some((root, root.get("metadata")?.as_object()?)))
    else {
        return body.to_string();
    };
    // Written from views that borrow the body: an import writes every entity's document, and
    // a copy of each body (an API's definition with it) only to add two fields allocated
    // again every value in it. The views are ordered maps, like the body's, so the text is the
    // one a copy gives.
    let (uid, etag) = (Value::String(id.to_string()), Value::String(etag.to_owned()));
    let mut with_ids: BTreeMap<&str, &Value> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    with_ids.extend([("uid", &uid), ("etag", &etag)]);
    let document: BTreeMap<&str, Member> = root
        .iter()
        .map(|(k, v)| (k.as_str(), if k == "metadata" { Member::Metadata(&with_ids) } else { Member::Body(v) }))
        .collect();
    serde_json::to_string(&document).expect("JSON values and maps with string keys always serialise")
}

/// A top-level member of a stored document.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Member<'a> {
    Body(&'a Value),
    Metadata(&'a BTreeMap<&'a str, &'a Value>),
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
        Self(projected(&self.0, fields).to_string())
    }
}

/// Writes the stored document with `relations` (type, target) added as Backstage serves them.
fn write_served<'a>(out: &mut String, document: &str, relations: impl IntoIterator<Item = (&'a str, &'a str)>) {
    // A stored document is a JSON object with at least apiVersion, kind and metadata, and
    // never a `relations` member (validation removes it): the member goes before its `}`.
    let open = document.trim_end().strip_suffix('}').unwrap_or("{");
    out.push_str(open);
    if !open.trim_end().ends_with('{') {
        out.push(',');
    }
    // Written here rather than through serde: a page of APIs serves thousands of relations,
    // and they were a tenth of its time.
    out.push_str("\"relations\":[");
    for (i, (relation, target)) in relations.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"type\":");
        json_string(out, relation);
        out.push_str(",\"targetRef\":");
        // The target's parts need escaping only if the whole does: it is looked at once.
        let plain = !needs_escaping(target);
        let string = |out: &mut String, text: &str| match plain {
            true => {
                out.push('"');
                out.push_str(text);
                out.push('"');
            }
            false => json_string(out, text),
        };
        string(out, target);
        out.push_str(",\"target\":");
        match target_parts(target) {
            Some((kind, namespace, name)) => {
                out.push_str("{\"kind\":");
                string(out, kind);
                out.push_str(",\"namespace\":");
                string(out, namespace);
                out.push_str(",\"name\":");
                string(out, name);
                out.push('}');
            }
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("]}");
}

/// `text` as a JSON string, as serde_json writes it: copied as it is unless it has a quote, a
/// backslash or a control character (refs and relation types hardly ever do).
fn json_string(out: &mut String, text: &str) {
    match needs_escaping(text) {
        true => out.push_str(&serde_json::to_string(text).expect("strings serialise")),
        false => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
    }
}

/// Whether JSON needs `text` escaped: it has a quote, a backslash or a control character.
fn needs_escaping(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Kind, namespace and name of a stored relation target (`kind:namespace/name`), read as
/// `EntityRef::parse` reads it but without copying: a page of APIs serves thousands.
fn target_parts(target: &str) -> Option<(&str, &str, &str)> {
    let (kind, rest) = target.trim().split_once(':')?;
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    let valid = !kind.is_empty() && !namespace.is_empty() && !name.is_empty() && !name.contains(['/', ':']);
    valid.then_some((kind, namespace, name))
}

/// Keeps only the given dotted paths of an entity's JSON text. The text is read once and
/// only the values on those paths are built: the rest (an API's definition is most of a
/// page of APIs) is skipped unparsed, where building the whole entity to pick three fields
/// made a projected page slower than the whole one.
fn projected(entity: &str, fields: &[String]) -> Value {
    let paths: Vec<Vec<&str>> = fields.iter().map(|field| field.split('.').collect()).collect();
    let paths: Vec<&[&str]> = paths.iter().map(Vec::as_slice).collect();
    let mut reader = serde_json::Deserializer::from_str(entity);
    match Pick(&paths).deserialize(&mut reader) {
        Ok(Some(picked @ Value::Object(_))) => picked,
        _ => Value::Object(Default::default()),
    }
}

/// The parts of a JSON value on the given paths (relative to it): all of it when a path ends
/// here, else the object of its picked members, or `None` when none of them is there.
struct Pick<'p>(&'p [&'p [&'p str]]);

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        if self.0.iter().any(|path| path.is_empty()) {
            return Value::deserialize(deserializer).map(Some);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Option<Value>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let below: Vec<&[&str]> = self.0.iter().filter(|path| path[0] == key).map(|path| &path[1..]).collect();
            if below.is_empty() {
                map.next_value::<IgnoredAny>()?;
            } else if let Some(value) = map.next_value_seed(Pick(&below))? {
                picked.insert(key, value);
            }
        }
        Ok((!picked.is_empty()).then_some(Value::Object(picked)))
    }

    // A path into anything but an object reaches nothing, as `Value::get` on it would.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
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

/// A page of entities as served, written one after another into one JSON array: a page of
/// APIs with their definitions is megabytes, and writing each entity and then the array
/// copied it twice.
pub struct EntityArray {
    /// `[` and the entities so far, separated by commas; `]` is added when it is taken.
    text: String,
    /// Where each entity ends in `text`.
    ends: Vec<usize>,
}

impl EntityArray {
    /// An empty array with room for `bytes` of documents.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut text = String::with_capacity(bytes + 2);
        text.push('[');
        Self { text, ends: Vec::new() }
    }

    /// Adds the stored document with its relations (type, target) as Backstage serves them.
    pub fn push_served<'a>(&mut self, document: &str, relations: impl IntoIterator<Item = (&'a str, &'a str)>) {
        if !self.ends.is_empty() {
            self.text.push(',');
        }
        write_served(&mut self.text, document, relations);
        self.ends.push(self.text.len());
    }

    /// Each entity's JSON text, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(1).chain(self.ends.iter().map(|end| end + 1));
        starts.zip(&self.ends).map(|(start, &end)| &self.text[start..end])
    }

    pub fn into_entities(self) -> Vec<EntityJson> {
        self.iter().map(|text| EntityJson(text.to_owned())).collect()
    }

    /// The array's JSON text, its entities with only the given dotted paths when there are any.
    pub fn into_json(mut self, fields: &[String]) -> String {
        if !fields.is_empty() {
            let projected: Vec<EntityJson> =
                self.iter().map(|entity| EntityJson(projected(entity, fields).to_string())).collect();
            return array(projected.iter().map(Some));
        }
        self.text.push(']');
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::refs::EntityRef;
    use serde_json::json;

    /// One entity as served on its own.
    fn served_alone<'a>(document: &str, relations: impl IntoIterator<Item = (&'a str, &'a str)>) -> EntityJson {
        let mut text = String::new();
        write_served(&mut text, document, relations);
        EntityJson(text)
    }

    #[test]
    fn relation_targets_read_as_entity_refs_do() {
        for target in ["component:default/a", "api:ns/b-c", "group:x", "nokind", "a:b/c/d", ":default/x", "k:/n"] {
            let parsed = EntityRef::parse(target, None, "default").ok();
            let expected = parsed.as_ref().map(|r| (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()));
            assert_eq!(target_parts(target), expected, "{target}");
        }
    }

    #[test]
    fn served_documents_are_the_stored_ones_with_relations() {
        let body = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                           "metadata": { "name": "a", "namespace": "default" }, "spec": { "owner": "team-x" } });
        let id = Uuid::now_v7();
        let document = stored(id, "e1", &body);
        let served = served_alone(&document, [("ownedBy", "group:default/team-x")]).to_value();
        assert_eq!(served["metadata"]["uid"], id.to_string());
        assert_eq!(served["metadata"]["etag"], "e1");
        assert_eq!(served["relations"][0]["targetRef"], "group:default/team-x");
        assert_eq!(served["relations"][0]["target"]["kind"], "group");
        assert_eq!(super::body(&document), body, "the body comes back without uid and etag");
        let none = served_alone(&document, []).to_value();
        assert_eq!(none["relations"], json!([]));
    }

    #[test]
    fn a_stored_document_is_the_body_with_its_uid_and_etag_added() {
        let bodies = [
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "API",
                    "metadata": { "name": "x", "annotations": { "a/b": "c\"d" }, "tags": ["z", "a"], "zz": null },
                    "spec": { "definition": "openapi: 3.0.0\n", "n": 1.5 } }),
            json!({ "kind": "API", "metadata": {} }),
            json!({ "kind": "API", "metadata": "not an object" }),
            json!(["not", "an", "entity"]),
        ];
        let id = Uuid::now_v7();
        for body in bodies {
            let mut copy = body.clone();
            if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("uid".into(), Value::String(id.to_string()));
                metadata.insert("etag".into(), Value::String("e1".into()));
            }
            assert_eq!(stored(id, "e1", &body), copy.to_string());
        }
    }

    #[test]
    fn relations_are_written_as_serde_json_writes_them() {
        let document = stored(Uuid::nil(), "e", &json!({ "kind": "API", "metadata": { "name": "x" } }));
        let odd = ["group:default/a\"b", "user:ns/back\\slash\n", "nokind", "api:default/é–ü"];
        let served = served_alone(&document, odd.iter().map(|t| ("dependsOn\t", *t)));
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
        let served = served_alone(&document, []);
        let only = served.clone().project(&["metadata.name".into(), "spec.type".into()]);
        assert_eq!(only.to_value(), json!({ "metadata": { "name": "x" } }));
        assert_eq!(served.clone().project(&[]), served);
        let listed: Value = serde_json::from_str(&array([Some(&only), None])).unwrap();
        assert_eq!(listed, json!([{ "metadata": { "name": "x" } }, null]));
        assert_eq!(array([]), "[]");
    }

    /// Projection as it was done on the whole parsed entity.
    fn projected_from_value(entity: &Value, fields: &[String]) -> Value {
        let mut out = json!({});
        for field in fields {
            let path: Vec<&str> = field.split('.').collect();
            if let Some(value) = path.iter().try_fold(entity, |v, key| v.get(key)) {
                let mut target = &mut out;
                for key in &path[..path.len() - 1] {
                    target = target.as_object_mut().unwrap().entry(key.to_string()).or_insert_with(|| json!({}));
                }
                target.as_object_mut().unwrap().insert(path[path.len() - 1].to_owned(), value.clone());
            }
        }
        out
    }

    #[test]
    fn a_projection_reads_only_its_paths_and_gives_what_the_parsed_entity_gives() {
        let entity = json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "API",
            "metadata": { "name": "x", "tags": ["a", "b"], "annotations": { "a\"b/é": "1", "n": null }, "empty": {} },
            "spec": { "type": "openapi", "definition": "openapi: 3.0.0\n", "lifecycle": null, "n": 1.5,
                      "items": [{ "x": 1 }], "deep": { "er": { "est": [true, -2, 18446744073709551615u64] } } },
            "relations": [{ "type": "ownedBy", "targetRef": "group:default/a" }]
        });
        let text = entity.to_string();
        let cases: &[&[&str]] = &[
            &["kind", "metadata.name"],
            &["metadata.annotations.a\"b/é", "metadata.annotations.n", "metadata.annotations.missing"],
            &["metadata", "metadata.name"],
            &["metadata.name", "metadata"],
            &["spec.items.x", "spec.lifecycle.x", "spec.n.x", "kind.x", "metadata.tags.0"],
            &["spec.deep.er.est", "spec.lifecycle", "metadata.empty", "relations"],
            &["nothing", "spec.definition.x"],
            &[],
        ];
        for fields in cases {
            let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            assert_eq!(projected(&text, &fields), projected_from_value(&entity, &fields), "{fields:?}");
        }
        assert_eq!(projected("[1, 2]", &["a".into()]), json!({}));
        assert_eq!(projected("not json", &["a".into()]), json!({}));
    }

    #[test]
    fn an_entity_array_serves_each_entity_as_served_alone() {
        let documents: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|name| stored(Uuid::nil(), "e", &json!({ "kind": "API", "metadata": { "name": name } })))
            .collect();
        let relations =
            [vec![], vec![("ownedBy", "group:default/x")], vec![("partOf", "system:y"), ("ownedBy", "user:z")]];
        let mut served = EntityArray::with_capacity(0);
        assert_eq!(EntityArray::with_capacity(0).into_json(&[]), "[]");
        for (document, relations) in documents.iter().zip(&relations) {
            served.push_served(document, relations.iter().copied());
        }
        let alone: Vec<EntityJson> =
            documents.iter().zip(&relations).map(|(d, r)| served_alone(d, r.iter().copied())).collect();
        assert_eq!(served.iter().count(), 3);
        assert_eq!(served.iter().collect::<Vec<_>>(), alone.iter().map(EntityJson::as_str).collect::<Vec<_>>());
        let names: Value = serde_json::from_str(&served.into_json(&["metadata.name".into()])).unwrap();
        assert_eq!(
            names,
            json!([{ "metadata": { "name": "a" } }, { "metadata": { "name": "b" } }, { "metadata": { "name": "c" } }])
        );
        let mut whole = EntityArray::with_capacity(0);
        whole.push_served(&documents[0], []);
        whole.push_served(&documents[1], relations[1].iter().copied());
        let listed: Value = serde_json::from_str(&whole.into_json(&[])).unwrap();
        assert_eq!(listed, json!([alone[0].to_value(), alone[1].to_value()]));
    }
}
