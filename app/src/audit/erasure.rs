//! GDPR erasure in the audit log: the events that name a person keep their place in the chain
//! and every hashed fact, while the fields that can name them point to a pseudonym instead.
//!
//! An erased event loses its personal salt (see `chain`): the verifier then takes the stored
//! personal digest as given, so the chain still verifies, and nobody can test the digest
//! against a list of emails. The database allows exactly this rewrite and nothing else, and
//! only inside a transaction that declared an erasure (migration `000017_gdpr_erasure`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::repo::{self, StoredEvent};
use crate::db::Connection;
use crate::error::AppError;

/// Who is erased, as the log names them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Person {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
}

impl Person {
    /// What gives the person away in free text: their email, their id, and their name when
    /// it is long enough not to match inside ordinary words.
    fn needles(&self) -> Vec<String> {
        let mut needles = vec![self.email.clone(), self.user_id.to_string()];
        let name = self.display_name.trim();
        if name.chars().count() >= 3 {
            needles.push(name.to_owned());
        }
        needles
    }

    /// Whether the event names the person: the test `repo::naming` makes in the database,
    /// for events read from an archive.
    pub fn is_named_in(&self, event: &StoredEvent) -> bool {
        let text = format!("{} {} {}", event.actor, event.target, event.request_id.as_deref().unwrap_or(""));
        event.actor_user_id == Some(self.user_id) || contains_as_words(&text.to_lowercase(), &self.email.to_lowercase())
    }
}

/// `text` contains `email` with no letter or digit either side: the database's word match
/// (`audit_words`), so an archived month erases exactly the events the stored ones did.
fn contains_as_words(text: &str, email: &str) -> bool {
    text.match_indices(email).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + email.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// What replaces the person: a name (`erased-1f3a9c0d`) and an account id, random and the same
/// in every event, so an auditor still sees that the same person did A, B and C.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pseudonym {
    pub name: String,
    pub user_id: Uuid,
}

impl Pseudonym {
    pub fn new() -> Self {
        let user_id = Uuid::new_v4();
        Self { name: format!("erased-{}", &user_id.simple().to_string()[..8]), user_id }
    }
}

impl Default for Pseudonym {
    fn default() -> Self {
        Self::new()
    }
}

/// An event's personal fields after erasure.
#[derive(Debug, PartialEq)]
pub struct Rewritten {
    pub id: i64,
    pub actor_user_id: Option<Uuid>,
    pub actor: String,
    pub target: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Value,
}

/// `event` with the person replaced by `pseudonym`. The address and user agent of an event the
/// person caused are theirs and go; those of someone else's event (an admin's invitation of
/// the person) stay.
pub fn rewrite(event: &StoredEvent, person: &Person, pseudonym: &Pseudonym) -> Rewritten {
    let needles = person.needles();
    let scrub = |text: &str| replace_all(text, &needles, &pseudonym.name);
    let actor = scrub(&event.actor);
    let by_person = event.actor_user_id == Some(person.user_id) || actor != event.actor;
    Rewritten {
        id: event.id,
        actor_user_id: match event.actor_user_id {
            Some(id) if id == person.user_id => Some(pseudonym.user_id),
            other => other,
        },
        actor,
        target: scrub(&event.target),
        ip: if by_person { None } else { event.ip.clone() },
        user_agent: if by_person { None } else { event.user_agent.clone() },
        details: scrub_json(&event.details, &|text| scrub(text)),
    }
}

fn scrub_json(value: &Value, scrub: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(text) => Value::String(scrub(text)),
        Value::Array(items) => Value::Array(items.iter().map(|item| scrub_json(item, scrub)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), scrub_json(v, scrub))).collect()),
        scalar => scalar.clone(),
    }
}

/// `text` with every occurrence of each needle, in any ASCII letter case, replaced. Matching
/// whole UTF-8 needles byte by byte only ever matches at character boundaries.
fn replace_all(text: &str, needles: &[String], replacement: &str) -> String {
    let mut out = text.to_owned();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let mut result = String::with_capacity(out.len());
        let (bytes, width) = (out.as_bytes(), needle.len());
        let mut start = 0;
        let mut i = 0;
        while i + width <= bytes.len() {
            if bytes[i..i + width].eq_ignore_ascii_case(needle.as_bytes()) {
                result.push_str(&out[start..i]);
                result.push_str(replacement);
                i += width;
                start = i;
            } else {
                i += 1;
            }
        }
        result.push_str(&out[start..]);
        out = result;
    }
    out
}

/// Erases `person` from an event read from an archive, as `erase` does in the database: the
/// personal fields rewritten and the salt dropped (the hashes stay valid). Whether it named them.
pub fn erase_in_place(event: &mut StoredEvent, person: &Person, pseudonym: &Pseudonym) -> bool {
    if !person.is_named_in(event) {
        return false;
    }
    let after = rewrite(event, person, pseudonym);
    event.actor_user_id = after.actor_user_id;
    event.actor = after.actor;
    event.target = after.target;
    event.ip = after.ip;
    event.user_agent = after.user_agent;
    event.details = after.details;
    event.personal_salt = None;
    true
}

/// Events rewritten per statement.
const BATCH: i64 = 1_000;

/// Replaces `person` by `pseudonym` in every event that names them (see `repo::naming`).
/// Must run inside the erasure's tenant transaction; returns how many events changed.
pub async fn erase(conn: &mut Connection, person: &Person, pseudonym: &Pseudonym) -> Result<usize, AppError> {
    repo::allow_erasure(conn).await?;
    let mut after = 0;
    let mut erased = 0;
    loop {
        let batch = repo::naming_batch(conn, person.user_id, &person.email, after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let rewritten: Vec<Rewritten> = batch.iter().map(|event| rewrite(event, person, pseudonym)).collect();
        erased += repo::rewrite_personal(conn, &rewritten).await?;
        if (batch.len() as i64) < BATCH {
            break;
        }
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn person() -> Person {
        Person { user_id: Uuid::new_v4(), email: "erin@example.com".into(), display_name: "Erin Example".into() }
    }

    fn event(actor_user_id: Option<Uuid>, actor: &str, target: &str, details: Value) -> StoredEvent {
        StoredEvent {
            id: 7,
            occurred_at: Utc::now(),
            actor_user_id,
            actor: actor.into(),
            action: "user.invited".into(),
            target: target.into(),
            outcome: "success".into(),
            severity: "high".into(),
            ip: Some("203.0.113.9".into()),
            user_agent: Some("Firefox".into()),
            request_id: Some("req-1".into()),
            details,
            personal_salt: Some(vec![1; 16]),
            personal_digest: Some(vec![2; 32]),
            content_hash: Some(vec![3; 32]),
        }
    }

    #[test]
    fn the_persons_own_event_loses_every_trace() {
        let (erin, alias) = (person(), Pseudonym::new());
        let own = event(
            Some(erin.user_id),
            "Erin@Example.com (key bcn_ab12)",
            "bcn_ab12",
            json!({ "name": "Erin Example's laptop" }),
        );
        let after = rewrite(&own, &erin, &alias);
        assert_eq!(after.actor_user_id, Some(alias.user_id));
        assert_eq!(after.actor, format!("{} (key bcn_ab12)", alias.name));
        assert_eq!(after.target, "bcn_ab12");
        assert_eq!((after.ip, after.user_agent), (None, None));
        assert_eq!(after.details, json!({ "name": format!("{}'s laptop", alias.name) }));
    }

    #[test]
    fn someone_elses_event_about_the_person_keeps_that_actors_fields() {
        let (erin, alias) = (person(), Pseudonym::new());
        let admin = Uuid::new_v4();
        let invited = event(
            Some(admin),
            "admin@example.com",
            "erin@example.com",
            json!({ "by": ["x", erin.user_id.to_string()], "n": 3 }),
        );
        let after = rewrite(&invited, &erin, &alias);
        assert_eq!((after.actor_user_id, after.actor.as_str()), (Some(admin), "admin@example.com"));
        assert_eq!(after.target, alias.name);
        assert_eq!(after.ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(after.details, json!({ "by": ["x", alias.name], "n": 3 }));
    }

    #[test]
    fn an_archived_event_is_erased_like_a_stored_one_and_only_once() {
        let (erin, alias) = (person(), Pseudonym::new());
        let mut own = event(Some(erin.user_id), "erin@example.com", "apikey:1", json!({ "by": "erin@example.com" }));
        let expected = rewrite(&own, &erin, &alias);
        assert!(erase_in_place(&mut own, &erin, &alias));
        assert_eq!((own.actor.as_str(), own.actor_user_id), (expected.actor.as_str(), expected.actor_user_id));
        assert_eq!((own.ip.as_deref(), &own.details, own.personal_salt.as_deref()), (None, &expected.details, None));
        assert_eq!(own.personal_digest, Some(vec![2; 32]), "the digest the hashes cover stays");
        assert!(!erase_in_place(&mut own, &erin, &alias), "nothing names them any more");

        let mut named = event(None, "admin@example.com", "Erin@Example.com", json!({}));
        assert!(erin.is_named_in(&named), "by email, in any case");
        assert!(erin.is_named_in(&event(None, "cli", "member:erin@example.com", json!({}))));
        let longer = event(None, "cli", "terin@example.community", json!({}));
        assert!(!erin.is_named_in(&longer), "another address that contains theirs is not theirs");
        let mut other =
            event(Some(Uuid::new_v4()), "admin@example.com", "bob@example.com", json!({ "x": "Erin Example" }));
        assert!(
            !erase_in_place(&mut other, &erin, &alias),
            "the name alone does not select an event, as in the database"
        );
        assert!(erase_in_place(&mut named, &erin, &alias));
        assert_eq!(named.target, alias.name);
    }

    #[test]
    fn replacement_is_case_insensitive_repeated_and_utf8_safe() {
        let needles = vec!["zoë@example.com".to_owned()];
        assert_eq!(replace_all("ZOË@example.com", &needles, "x"), "ZOË@example.com", "only ASCII case folds");
        assert_eq!(replace_all("é zoë@EXAMPLE.com, zoë@example.com!", &needles, "x"), "é x, x!");
        assert_eq!(replace_all("Al", &["Al".into()], "x"), "x");
        // Short names are not searched for: they would match inside ordinary words.
        let short = Person { display_name: "Al".into(), ..person() };
        assert_eq!(short.needles().len(), 2);
    }
}
