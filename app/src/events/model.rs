//! What travels on the portal's socket (`GET /api/ws`), shared by the server and the browser.

use serde::{Deserialize, Serialize};

/// The topics a client may subscribe to: the part of an event's kind before the colon.
pub const TOPICS: [&str; 7] = ["catalog", "notification", "audit", "deployment", "finops", "brief", "plugin"];

/// One event as a client reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveMessage {
    /// The id a reconnecting client passes back as `after`. Catalog version notices have none:
    /// a page that missed one refreshes anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// Sent after a replay that could not cover everything since `after` (the window had passed,
/// or too much happened): the client refreshes what it shows instead.
pub const REPLAY_INCOMPLETE: &str = "replay:incomplete";

/// What a client sends: the topics it wants, and the last event id it saw, if reconnecting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscribe {
    pub subscribe: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// The topic of an event kind: `notification` for `notification:new`.
pub fn topic(kind: &str) -> &str {
    kind.split_once(':').map_or(kind, |(topic, _)| topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_names_its_topic() {
        assert_eq!(topic("notification:new"), "notification");
        assert_eq!(topic("catalog:updated"), "catalog");
        assert_eq!(topic("bare"), "bare");
    }

    #[test]
    fn catalog_notices_have_no_id_on_the_wire() {
        let notice = LiveMessage { id: None, kind: "catalog:updated".into(), payload: serde_json::json!({}) };
        assert_eq!(serde_json::to_string(&notice).unwrap(), r#"{"kind":"catalog:updated","payload":{}}"#);
        let subscribe: Subscribe = serde_json::from_str(r#"{"subscribe":["audit"]}"#).unwrap();
        assert_eq!(subscribe.after, None);
    }
}
