//! The four DORA keys, computed from production deployments (definitions as dora.dev gives
//! them, and shown next to the figures):
//! - deployment frequency: successful production deployments in the window, per week;
//! - lead time for changes: median time from a commit to its successful production deployment
//!   (needs the commit's time, which GitHub's workflow runs carry);
//! - change failure rate: failed production deployments over all finished ones;
//! - time to restore: median time from the first failed production deployment of an entity to
//!   its next successful one (consecutive failures are one incident).
//!
//! A deployment is to production when its environment is `production`, `prod`, `prd`, or
//! starts with `prod-`/`production-` (case ignored).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::model::{Dora, Status};

/// A finished deployment, as the metrics need it.
#[derive(Clone, Debug)]
pub struct Fact {
    pub entity: String,
    pub environment: Option<String>,
    pub status: Status,
    pub finished_at: DateTime<Utc>,
    pub commit_at: Option<DateTime<Utc>>,
}

pub fn is_production(environment: &str) -> bool {
    let e = environment.to_ascii_lowercase();
    matches!(e.as_str(), "production" | "prod" | "prd") || e.starts_with("prod-") || e.starts_with("production-")
}

fn hours(d: Duration) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(day.weekday().num_days_from_monday() as i64)
}

/// The metrics over the `window_days` days before `now`.
pub fn compute(facts: &[Fact], now: DateTime<Utc>, window_days: i64) -> Dora {
    let from = now - Duration::days(window_days);
    let mut production: Vec<&Fact> = facts
        .iter()
        .filter(|f| f.environment.as_deref().is_some_and(is_production))
        .filter(|f| matches!(f.status, Status::Success | Status::Failure))
        .filter(|f| f.finished_at > from && f.finished_at <= now)
        .collect();
    production.sort_by_key(|f| (f.entity.clone(), f.finished_at));
    let successes = production.iter().filter(|f| f.status == Status::Success).count() as u32;
    let failures = production.iter().filter(|f| f.status == Status::Failure).count() as u32;
    let lead_times = production
        .iter()
        .filter(|f| f.status == Status::Success)
        .filter_map(|f| f.commit_at.map(|c| hours(f.finished_at - c)))
        .filter(|h| *h >= 0.0)
        .collect();
    let mut restores = Vec::new();
    let mut failing: Option<(&str, DateTime<Utc>)> = None;
    for fact in &production {
        if failing.is_some_and(|(entity, _)| entity != fact.entity) {
            failing = None;
        }
        match (fact.status, failing) {
            (Status::Failure, None) => failing = Some((&fact.entity, fact.finished_at)),
            (Status::Success, Some((_, since))) => {
                restores.push(hours(fact.finished_at - since));
                failing = None;
            }
            _ => {}
        }
    }
    let mut weeks: BTreeMap<NaiveDate, (u32, u32)> = BTreeMap::new();
    let mut week = monday(from.date_naive());
    while week <= now.date_naive() {
        weeks.insert(week, (0, 0));
        week += Duration::days(7);
    }
    for fact in &production {
        let counts = weeks.entry(monday(fact.finished_at.date_naive())).or_default();
        match fact.status {
            Status::Success => counts.0 += 1,
            _ => counts.1 += 1,
        }
    }
    Dora {
        window_days,
        deployments: successes,
        per_week: successes as f64 * 7.0 / window_days.max(1) as f64,
        lead_time_hours: median(lead_times),
        change_failure_rate: (successes + failures > 0).then(|| failures as f64 / (successes + failures) as f64),
        time_to_restore_hours: median(restores),
        weekly: weeks.into_iter().map(|(week, (ok, failed))| (week, ok, failed)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T{hour:02}:00:00Z")).unwrap().to_utc()
    }

    fn fact(entity: &str, env: &str, status: Status, finished: DateTime<Utc>, commit: Option<DateTime<Utc>>) -> Fact {
        Fact { entity: entity.into(), environment: Some(env.into()), status, finished_at: finished, commit_at: commit }
    }

    /// A scripted month, computed by hand:
    /// - api: success (commit 2 h before), failure, failure, success 6 h after the first
    ///   failure (commit 4 h before), success (no commit time);
    /// - web: failure, success 10 h later (commit 1 h before); a staging failure and a
    ///   cancelled production run that do not count; one success outside the window.
    #[test]
    fn a_scripted_history_gives_the_hand_computed_figures() {
        use Status::*;
        let facts = vec![
            fact("api", "production", Success, at(3, 10), Some(at(3, 8))),
            fact("api", "production", Failure, at(10, 9), None),
            fact("api", "prod", Failure, at(10, 12), None),
            fact("api", "Production", Success, at(10, 15), Some(at(10, 11))),
            fact("api", "prod-eu", Success, at(20, 10), None),
            fact("web", "production", Failure, at(12, 8), None),
            fact("web", "production", Success, at(12, 18), Some(at(12, 17))),
            fact("web", "staging", Failure, at(13, 8), None),
            fact("web", "production", Cancelled, at(14, 8), None),
            fact("web", "production", Success, at(1, 8) - Duration::days(40), None),
        ];
        let dora = compute(&facts, at(30, 0), 28);
        // Successes: api 3, web 1 = 4; failures: api 2, web 1 = 3.
        assert_eq!(dora.deployments, 4);
        assert!((dora.per_week - 1.0).abs() < 1e-9, "4 in 4 weeks: {}", dora.per_week);
        assert!((dora.change_failure_rate.unwrap() - 3.0 / 7.0).abs() < 1e-9);
        // Lead times 2 h, 4 h, 1 h: median 2 h.
        assert_eq!(dora.lead_time_hours, Some(2.0));
        // Incidents: api from the 10th 09:00 to 15:00 (6 h, two failures), web 10 h: median 8 h.
        assert_eq!(dora.time_to_restore_hours, Some(8.0));
        let counted: (u32, u32) = dora.weekly.iter().fold((0, 0), |(s, f), (_, ok, failed)| (s + ok, f + failed));
        assert_eq!(counted, (4, 3));
        assert!(dora.weekly.windows(2).all(|w| w[1].0 - w[0].0 == Duration::days(7)));
    }

    #[test]
    fn no_production_deployments_give_no_rates() {
        let dora = compute(&[], Utc::now(), 30);
        assert_eq!((dora.deployments, dora.change_failure_rate, dora.lead_time_hours), (0, None, None));
        assert!(is_production("PROD") && is_production("production-us") && !is_production("preprod"));
    }
}
