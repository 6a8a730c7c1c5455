//! The hashes that make the audit log tamper-evident, computed here and checked here; the one
//! link computed in SQL (`audit_chain_link()`, at commit) is reproduced by [`link`].
//!
//! - `personal_digest` = SHA-256(salt ‖ the fields that can name a person). A GDPR erasure
//!   deletes the salt with those fields and keeps the digest, so the chain still verifies while
//!   nothing links the digest back to the person (without the salt it cannot be brute-forced
//!   from a list of emails).
//! - `content_hash` = SHA-256(version ‖ time ‖ action ‖ outcome ‖ severity ‖ request id ‖
//!   personal_digest).
//! - `chain_hash(n)` = SHA-256(chain_hash(n−1) ‖ n ‖ event id ‖ content_hash), with 32 zero
//!   bytes before the first event.
//! - A checkpoint is HMAC-SHA256 under a server key (never stored in the database) over the
//!   tenant, a position and its chain hash: whoever can write the database directly can rewrite
//!   an event and every hash after it, but not sign the result.
//!
//! Every field is written length-prefixed (absent fields apart from empty ones), so no two
//! different events encode to the same bytes.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The chain hash before the first event.
pub const GENESIS: Hash = [0; 32];

/// Bumped if the encoding ever changes; part of every content hash.
const ENCODING_VERSION: &[u8] = b"beacon-audit-v1";

/// The fields of an event that can name a person.
pub struct Personal<'a> {
    pub actor_user_id: Option<uuid::Uuid>,
    pub actor: &'a str,
    pub target: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub details: &'a serde_json::Value,
}

/// The other fields of an event.
pub struct Facts<'a> {
    pub occurred_at: DateTime<Utc>,
    pub action: &'a str,
    pub outcome: &'a str,
    pub severity: &'a str,
    pub request_id: Option<&'a str>,
}

fn put(hasher: &mut Sha256, field: Option<&[u8]>) {
    match field {
        None => hasher.update([0u8]),
        Some(bytes) => {
            hasher.update([1u8]);
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        }
    }
}

pub fn personal_digest(salt: &[u8], personal: &Personal<'_>) -> Hash {
    let mut hasher = Sha256::new();
    put(&mut hasher, Some(salt));
    put(&mut hasher, personal.actor_user_id.as_ref().map(|id| id.as_bytes().as_slice()));
    put(&mut hasher, Some(personal.actor.as_bytes()));
    put(&mut hasher, Some(personal.target.as_bytes()));
    put(&mut hasher, personal.ip.map(str::as_bytes));
    put(&mut hasher, personal.user_agent.map(str::as_bytes));
    put(&mut hasher, Some(canonical_json(personal.details).as_bytes()));
    hasher.finalize().into()
}

pub fn content_hash(facts: &Facts<'_>, personal_digest: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    put(&mut hasher, Some(ENCODING_VERSION));
    put(&mut hasher, Some(&facts.occurred_at.timestamp_micros().to_be_bytes()));
    put(&mut hasher, Some(facts.action.as_bytes()));
    put(&mut hasher, Some(facts.outcome.as_bytes()));
    put(&mut hasher, Some(facts.severity.as_bytes()));
    put(&mut hasher, facts.request_id.map(str::as_bytes));
    put(&mut hasher, Some(personal_digest));
    hasher.finalize().into()
}

/// What `audit_chain_link()` computes at commit: `sha256(prev ‖ int8send(seq) ‖ int8send(id) ‖ content)`.
pub fn link(previous: &Hash, seq: i64, event_id: i64, content_hash: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(seq.to_be_bytes());
    hasher.update(event_id.to_be_bytes());
    hasher.update(content_hash);
    hasher.finalize().into()
}

/// What a checkpoint signs: the tenant (a checkpoint copied to another tenant does not verify),
/// the position, its chain hash and when it was signed.
pub fn checkpoint_signature(
    key: &[u8; 32],
    tenant_id: i64,
    seq: i64,
    chain_hash: &Hash,
    signed_at: DateTime<Utc>,
) -> Hash {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"beacon-audit-checkpoint-v1");
    mac.update(&tenant_id.to_be_bytes());
    mac.update(&seq.to_be_bytes());
    mac.update(chain_hash);
    mac.update(&signed_at.timestamp_micros().to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// Compares a stored signature with the expected one in constant time.
pub fn signature_matches(expected: &Hash, stored: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    stored.len() == expected.len() && bool::from(expected.as_slice().ct_eq(stored))
}

/// JSON with object keys sorted at every level: the same value always gives the same bytes,
/// whatever order it was built or stored in (PostgreSQL's `jsonb` reorders keys).
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// Signs an archive's manifest (its canonical JSON without the signature): the tenant and the
/// month are part of what is signed, so a manifest moved to another tenant or month fails.
pub fn archive_signature(key: &[u8; 32], canonical_manifest: &str) -> Hash {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"beacon-audit-archive-v1");
    mac.update(canonical_manifest.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Byte fields as lowercase hex in archives and manifests (`serde(with = "hex_bytes")`).
pub mod hex_bytes {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_str(&super::hex(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => super::unhex(&text).map(Some).ok_or_else(|| D::Error::custom("not hex")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_ignores_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, "x"], "x": null}});
        let b: serde_json::Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#);
    }

    #[test]
    fn every_field_changes_the_hash_and_fields_cannot_run_together() {
        let details = json!({});
        let personal = |actor: &'static str, target: &'static str| Personal {
            actor_user_id: None,
            actor,
            target,
            ip: None,
            user_agent: None,
            details: &details,
        };
        let salt = [7u8; 16];
        // "ab" + "c" and "a" + "bc" must differ: lengths are part of the encoding.
        assert_ne!(personal_digest(&salt, &personal("ab", "c")), personal_digest(&salt, &personal("a", "bc")));
        assert_ne!(personal_digest(&salt, &personal("a", "b")), personal_digest(&[8u8; 16], &personal("a", "b")));
        let at = DateTime::from_timestamp_micros(1).unwrap();
        let facts =
            |request_id| Facts { occurred_at: at, action: "a.b", outcome: "success", severity: "low", request_id };
        let digest = personal_digest(&salt, &personal("a", "b"));
        // An absent request id is not the same as an empty one.
        assert_ne!(content_hash(&facts(None), &digest), content_hash(&facts(Some("")), &digest));
    }

    #[test]
    fn hex_round_trips_and_refuses_odd_input() {
        assert_eq!(unhex(&hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é1"), None);
    }

    #[test]
    fn signatures_depend_on_key_tenant_and_position() {
        let at = DateTime::from_timestamp_micros(5).unwrap();
        let sig = checkpoint_signature(&[1; 32], 1, 10, &GENESIS, at);
        assert!(signature_matches(&sig, &sig));
        assert_ne!(sig, checkpoint_signature(&[2; 32], 1, 10, &GENESIS, at));
        assert_ne!(sig, checkpoint_signature(&[1; 32], 2, 10, &GENESIS, at));
        assert_ne!(sig, checkpoint_signature(&[1; 32], 1, 11, &GENESIS, at));
        assert!(!signature_matches(&sig, &sig[..31]));
    }
}
