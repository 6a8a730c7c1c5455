//! The audit page's filters and position, kept in the URL so a view can be shared or bookmarked:
//! `/audit?action=user.role_changed&outcome=failure&from=2026-12-01&before=…`. The same filters
//! serve `GET /api/audit` and the exports, parsed by [`AuditView::from_query`] everywhere.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{AuditAction, AuditRecord, Outcome, Severity};
use crate::error::AppError;

/// Events per page on the audit page.
pub const PAGE_SIZE: i64 = 50;
/// The most `GET /api/audit` returns at once.
pub const MAX_PAGE_SIZE: i64 = 1_000;
/// The longest value a text filter takes (an email, a target, a search term).
pub const MAX_FILTER_LEN: usize = 200;

/// The filters as typed (strings, so a form can show them back); checked by [`AuditView::filter`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    /// Who acted: a member's email (their API keys' events included), `cli` or `anonymous`.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub severity: Option<String>,
    /// An address or a network in CIDR notation.
    pub ip: Option<String>,
    /// Inclusive start and exclusive end, UTC: `2026-12-01`, `2026-12-01T09:30` or RFC 3339.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Words found in the actor, target or request id.
    pub q: Option<String>,
    /// Older than this position (the next page), or newer than it (the previous one).
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A position in the newest-first order: an event's time and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub occurred_at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    pub fn of(record: &AuditRecord) -> Self {
        Self { occurred_at: record.occurred_at, id: record.id }
    }

    /// `<microseconds since the epoch>_<id>`: opaque to people, easy to check.
    pub fn encode(self) -> String {
        format!("{}_{}", self.occurred_at.timestamp_micros(), self.id)
    }

    pub fn decode(raw: &str) -> Result<Self, AppError> {
        let bad = || AppError::invalid(format!("`{raw}` is not a cursor of this list; follow the page links."));
        let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        let occurred_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        (id > 0).then_some(Self { occurred_at, id }).ok_or_else(bad)
    }
}

/// Which way a page reads from its cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Older(Cursor),
    Newer(Cursor),
}

/// A checked filter, ready for the repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Stored names to match (an action's current and older names, or all of a severity's).
    pub actions: Option<Vec<&'static str>>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
    /// A single address, or a network (`10.0.0.0/8`) in its canonical form.
    pub ip: Option<IpMatch>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Lower-cased search words, each of which must appear as written and as whole words.
    pub words: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpMatch {
    Address(String),
    Network(String),
}

impl AuditView {
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            actor: text("actor"),
            action: text("action"),
            target: text("target"),
            outcome: text("outcome"),
            severity: text("severity"),
            ip: text("ip"),
            from: text("from"),
            to: text("to"),
            q: text("q"),
            before: text("before"),
            after: text("after"),
        }
    }

    /// The filter parameters (not the position), for links and forms.
    pub fn filter_params(&self) -> Vec<(&'static str, &str)> {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("outcome", &self.outcome),
            ("severity", &self.severity),
            ("ip", &self.ip),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    pub fn is_filtered(&self) -> bool {
        !self.filter_params().is_empty()
    }

    /// `path?filters[&extra]`, with every value percent-encoded.
    pub fn href_with(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let pairs: Vec<String> = self
            .filter_params()
            .into_iter()
            .chain(extra.iter().copied())
            .map(|(k, v)| format!("{k}={}", crate::escape::percent(v, b"")))
            .collect();
        match pairs.is_empty() {
            true => path.to_owned(),
            false => format!("{path}?{}", pairs.join("&")),
        }
    }

    /// The page older than `cursor`.
    pub fn older_href(&self, cursor: Cursor) -> String {
        self.href_with("/audit", &[("before", &cursor.encode())])
    }

    /// The page newer than `cursor`.
    pub fn newer_href(&self, cursor: Cursor) -> String {
        self.href_with("/audit", &[("after", &cursor.encode())])
    }

    pub fn direction(&self) -> Result<Option<Direction>, AppError> {
        match (&self.before, &self.after) {
            (Some(_), Some(_)) => Err(AppError::invalid("Give `before` or `after`, not both.")),
            (Some(raw), None) => Ok(Some(Direction::Older(Cursor::decode(raw)?))),
            (None, Some(raw)) => Ok(Some(Direction::Newer(Cursor::decode(raw)?))),
            (None, None) => Ok(None),
        }
    }

    /// Checks every filter; a value that cannot match anything legitimately is a 4xx naming it.
    pub fn filter(&self) -> Result<AuditFilter, AppError> {
        for (name, value) in self.filter_params() {
            if value.chars().count() > MAX_FILTER_LEN {
                return Err(AppError::invalid(format!("`{name}` is limited to {MAX_FILTER_LEN} characters.")));
            }
            if value.contains('\0') {
                return Err(AppError::invalid(format!("`{name}` may not contain NUL.")));
            }
        }
        let action = match self.action.as_deref() {
            None => None,
            Some(raw) => Some(
                AuditAction::parse(raw).ok_or_else(|| AppError::invalid(format!("`{raw}` is not an audit action.")))?,
            ),
        };
        let severity = match self.severity.as_deref() {
            None => None,
            Some(raw) => Some(Severity::parse(raw).ok_or_else(|| {
                AppError::invalid(format!("`{raw}` is not a severity; use low, medium, high or critical."))
            })?),
        };
        let actions = match (action, severity) {
            (None, None) => None,
            (Some(a), None) => Some(a.stored_names().collect()),
            (None, Some(s)) => Some(s.actions().flat_map(AuditAction::stored_names).collect()),
            // Both: the action if it has that severity, otherwise nothing can match.
            (Some(a), Some(s)) => Some(if a.severity() == s { a.stored_names().collect() } else { Vec::new() }),
        };
        let outcome = match self.outcome.as_deref() {
            None => None,
            Some(raw) => Some(
                Outcome::parse(raw)
                    .ok_or_else(|| AppError::invalid(format!("`{raw}` is not an outcome; use success or failure.")))?,
            ),
        };
        let ip = self.ip.as_deref().map(parse_ip).transpose()?;
        let from = self.from.as_deref().map(|raw| parse_time("from", raw)).transpose()?;
        let to = self.to.as_deref().map(|raw| parse_time("to", raw)).transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(AppError::invalid("`from` must be before `to`."));
            }
        }
        let words: Vec<String> = self
            .q
            .as_deref()
            .map(|q| q.split_whitespace().take(8).map(str::to_lowercase).collect())
            .unwrap_or_default();
        // Search finds events by their words; punctuation alone has none to look up.
        if let Some(word) = words.iter().find(|w| !w.chars().any(char::is_alphanumeric)) {
            return Err(AppError::invalid(format!("`{word}` has no letter or digit to search for.")));
        }
        Ok(AuditFilter {
            actor: self.actor.clone(),
            actions,
            target: self.target.clone(),
            outcome,
            ip,
            from,
            to,
            words,
        })
    }
}

fn parse_ip(raw: &str) -> Result<IpMatch, AppError> {
    let bad = || AppError::invalid(format!("`{raw}` is not an IP address or a network such as 10.0.0.0/8."));
    match raw.split_once('/') {
        None => raw.parse::<std::net::IpAddr>().map(|ip| IpMatch::Address(ip.to_string())).map_err(|_| bad()),
        Some((address, bits)) => {
            let address: std::net::IpAddr = address.parse().map_err(|_| bad())?;
            let bits: u8 = bits.parse().map_err(|_| bad())?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            (bits <= max).then(|| IpMatch::Network(format!("{address}/{bits}"))).ok_or_else(bad)
        }
    }
}

/// A date (midnight UTC), a `datetime-local` value (UTC) or an RFC 3339 time.
pub fn parse_time(name: &str, raw: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc()))
        .or_else(|| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M").ok().map(|t| t.and_utc()))
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
        })
        .ok_or_else(|| {
            AppError::invalid(format!(
                "`{name}` = `{raw}` is not a time; use 2026-12-01, 2026-12-01T09:30 or RFC 3339."
            ))
        })
}

/// One page of the audit list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// Where the next older page starts, if there is one.
    pub older: Option<Cursor>,
    /// Where the next newer page starts, if this is not the newest.
    pub newer: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(pairs: &[(&str, &str)]) -> AuditView {
        AuditView::from_query(|k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn filters_parse_and_refuse_what_cannot_match() {
        let filter =
            view(&[("action", "oauth.token"), ("outcome", "failure"), ("ip", "10.1.0.0/16")]).filter().unwrap();
        assert_eq!(filter.actions.unwrap(), vec!["oauth.token", "oauth.token_issued", "oauth.token_refused"]);
        assert_eq!(filter.outcome, Some(Outcome::Failure));
        assert_eq!(filter.ip, Some(IpMatch::Network("10.1.0.0/16".into())));
        assert!(view(&[("action", "everything")]).filter().is_err());
        assert!(view(&[("severity", "urgent")]).filter().is_err());
        assert!(view(&[("ip", "10.0.0.0/33")]).filter().is_err());
        assert!(view(&[("from", "yesterday")]).filter().is_err());
        assert!(view(&[("from", "2026-12-02"), ("to", "2026-12-01")]).filter().is_err());
        assert!(view(&[("q", &"x".repeat(201))]).filter().is_err());
        assert!(view(&[("q", "bob @@")]).filter().is_err());
        assert_eq!(view(&[("q", " Bob@  service-42 ")]).filter().unwrap().words, ["bob@", "service-42"]);
        assert!(view(&[("target", "a\0b")]).filter().is_err());
    }

    #[test]
    fn a_severity_filter_is_every_action_of_that_severity() {
        let filter = view(&[("severity", "critical")]).filter().unwrap();
        let actions = filter.actions.unwrap();
        assert!(actions.contains(&"sso.provider_added"));
        assert!(!actions.contains(&"auth.login"));
        let none = view(&[("severity", "critical"), ("action", "auth.login")]).filter().unwrap();
        assert_eq!(none.actions, Some(vec![]));
    }

    #[test]
    fn times_take_dates_local_times_and_rfc3339() {
        let at = |raw: &str| parse_time("from", raw).unwrap().to_rfc3339();
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00+00:00");
        assert_eq!(at("2026-12-01T09:30"), "2026-12-01T09:30:00+00:00");
        assert_eq!(at("2026-12-01T09:30:00+01:00"), "2026-12-01T08:30:00+00:00");
    }

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let cursor = Cursor { occurred_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(), id: 42 };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "1_", "_1", "x_1", "1_-4", "99999999999999999999_1"] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
        assert!(view(&[("before", "1_1"), ("after", "1_1")]).direction().is_err());
    }

    #[test]
    fn links_keep_the_filters_encoded() {
        let v = view(&[("actor", "a+b@example.com"), ("q", "two words")]);
        assert_eq!(v.href_with("/audit", &[]), "/audit?actor=a%2Bb%40example.com&q=two%20words");
        assert_eq!(AuditView::default().href_with("/audit", &[]), "/audit");
    }
}
