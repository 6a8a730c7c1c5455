//! The usage insights of a tenant, read in one short transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

use super::model::{Metric, Ranked, Series, UsageInsights, DAYS, WEEKS};
use super::repo;
use crate::access::repo as access;
use crate::audit::model::AuditAction;
use crate::catalog::refs::EntityRef;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

/// Entries of each ranking.
const TOP: i64 = 10;

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// The index of `day` in a run of daily slots from `first`, if it falls inside.
fn slot(first: NaiveDate, day: NaiveDate, len: usize) -> Option<usize> {
    usize::try_from((day - first).num_days()).ok().filter(|i| *i < len)
}

pub async fn insights(db: &Database, tenant: &Tenant, now: DateTime<Utc>) -> AppResult<UsageInsights> {
    let today = now.date_naive();
    let first_day = today - Days::new(DAYS as u64 - 1);
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let first_week = monday - Days::new(7 * (WEEKS as u64 - 1));
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let active = repo::active_days(conn, first_week).await?;
            let sign_ins = repo::sign_ins(conn, midnight(first_day)).await?;
            let requests = access::daily_requests(conn, midnight(first_day)).await?;
            let viewed = repo::top(conn, Metric::EntityView.as_str(), first_day, TOP).await?;
            let empty = repo::top(conn, Metric::EmptySearch.as_str(), first_day, TOP).await?;
            let keys = access::list_keys(conn, None).await?;
            let clients = access::list_clients(conn).await?;

            let mut daily: Vec<HashSet<uuid::Uuid>> = vec![HashSet::new(); DAYS];
            let mut weekly: Vec<HashSet<uuid::Uuid>> = vec![HashSet::new(); WEEKS];
            for row in &active {
                if let Some(i) = slot(first_day, row.day, DAYS) {
                    daily[i].insert(row.user_id);
                }
                if let Some(i) = slot(first_week, row.day, WEEKS * 7) {
                    weekly[i / 7].insert(row.user_id);
                }
            }
            let counts = |sets: Vec<HashSet<uuid::Uuid>>| sets.into_iter().map(|s| s.len() as u64).collect();

            let mut password = vec![0; DAYS];
            let mut sso = vec![0; DAYS];
            for row in &sign_ins {
                let Some(i) = slot(first_day, row.day, DAYS) else { continue };
                match AuditAction::parse(&row.action) {
                    Some(AuditAction::SsoLogin) => sso[i] += row.count as u64,
                    _ => password[i] += row.count as u64,
                }
            }
            let mut keys_in_use = vec![0; DAYS];
            let mut per_caller: HashMap<(Option<uuid::Uuid>, Option<String>), (u64, u64)> = HashMap::new();
            for row in &requests {
                if row.api_key_id.is_some() {
                    if let Some(i) = slot(first_day, row.day, DAYS) {
                        keys_in_use[i] += 1;
                    }
                }
                let totals = per_caller.entry((row.api_key_id, row.oauth_client_id.clone())).or_default();
                totals.0 += row.requests as u64;
                totals.1 += row.failed as u64;
            }
            let key_names: HashMap<_, _> =
                keys.iter().map(|k| (k.id, format!("{} (bcn_{})", k.name, k.prefix))).collect();
            let client_names: HashMap<_, _> =
                clients.iter().map(|c| (c.client_id.clone(), format!("{} (client {})", c.name, c.client_id))).collect();
            let mut api_callers: Vec<Ranked> = per_caller
                .into_iter()
                .map(|((key, client), (count, failed))| {
                    let name = match (key, client) {
                        (Some(key), _) => key_names.get(&key).cloned().unwrap_or_else(|| "a deleted key".into()),
                        (None, Some(client)) => client_names.get(&client).cloned().unwrap_or(client),
                        (None, None) => "unknown".into(),
                    };
                    Ranked { name, href: None, count, failed }
                })
                .collect();
            api_callers.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            api_callers.truncate(TOP as usize);

            let ranked = |rows: Vec<repo::SubjectCount>, href: fn(&str) -> Option<String>| {
                rows.into_iter()
                    .map(|r| Ranked { href: href(&r.subject), name: r.subject, count: r.count as u64, failed: 0 })
                    .collect()
            };
            Ok::<_, AppError>(UsageInsights {
                first_day,
                first_week,
                active_daily: Series { label: "Active members per day".into(), values: counts(daily) },
                active_weekly: Series { label: "Active members per week".into(), values: counts(weekly) },
                sign_ins: vec![
                    Series { label: "Password sign-ins".into(), values: password },
                    Series { label: "Single sign-on sign-ins".into(), values: sso },
                    Series { label: "API keys in use".into(), values: keys_in_use },
                ],
                most_viewed: ranked(viewed, |subject| {
                    EntityRef::parse(subject, None, "default").ok().map(|r| r.page_path())
                }),
                empty_searches: ranked(empty, |subject| {
                    Some(format!("/catalog?q={}", crate::escape::percent(subject, b"")))
                }),
                api_callers,
            })
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::slot;
    use chrono::NaiveDate;

    #[test]
    fn days_fall_into_their_slots_and_outside_days_into_none() {
        let first = NaiveDate::from_ymd_opt(2026, 11, 4).unwrap();
        assert_eq!(slot(first, first, 30), Some(0));
        assert_eq!(slot(first, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(), 30), Some(29));
        assert_eq!(slot(first, NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(), 30), None);
        assert_eq!(slot(first, NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(), 30), None);
    }
}
