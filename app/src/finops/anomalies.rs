//! Cost anomalies, explainable. For each allocation target, service and currency, each day
//! whose costs changed (an import's days, every day after a rule change, and always the newest
//! 7) is compared with the same weekday of the 8 weeks before (at least 4 of them, and 14 days
//! of history): baseline = their median, robust z = 0.6745 · (x − median) / MAD. A day is an
//! anomaly when |z| > 3.5 and its impact (x − median) clears both of the tenant's floors (an
//! amount, and a percent of the median). A flat baseline (MAD 0) uses 5% of its median, at
//! least 0.01, as its MAD, so a change from a constant is judged by the floors.
//!
//! Detected inside the transaction of every import and allocation recompute: a new anomaly is
//! kept with what was expected, the range (median ± 3.5 MADs / 0.6745), the actual and the top
//! resources behind it (the day's rows matched again with the allocation rules) and audited;
//! when it is in the newest week it is also published as `finops:anomaly` and its owners are
//! told. Figures are statistics over daily sums (f64); the amounts shown are rounded to cents.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use diesel::sql_types::{Date, Double, Jsonb, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::allocation_repo::{self, CostCell};
use super::budgets::tell_owners;
use super::model::{AnomaliesView, AnomalyView};
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::catalog::refs::EntityRef;
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::events::bus::{self, Event};
use crate::notifications::model::NotificationKind;
use crate::notifications::service::Notice;
use crate::tenancy::model::Tenant;

const Z_LIMIT: f64 = 3.5;
const WEEKS: i64 = 8;
const MIN_SAMPLES: usize = 4;
const MIN_HISTORY_DAYS: i64 = 14;
const RECENT_DAYS: i64 = 7;
const TOP_RESOURCES: i64 = 5;
const LISTED: i64 = 100;

/// What the baseline says of one day.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub expected: f64,
    pub low: f64,
    pub high: f64,
    pub z: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// Judges `actual` on `day` against `history` (day → cost, days without cost absent) starting
/// at `first`; `None` when there is not enough history or it is not an anomaly. Only days the
/// tenant's bills `cover` (any cost at all that day) are samples: a day without this group's
/// cost is a zero only when the bills say so.
pub fn judge(
    history: &BTreeMap<NaiveDate, f64>,
    first: NaiveDate,
    covered: impl Fn(NaiveDate) -> bool,
    (day, actual): (NaiveDate, f64),
    floors: (f64, f64),
) -> Option<Judgement> {
    if (day - first).num_days() < MIN_HISTORY_DAYS {
        return None;
    }
    let mut samples: Vec<f64> = (1..=WEEKS)
        .map(|k| day - Duration::days(7 * k))
        .filter(|d| *d >= first && covered(*d))
        .map(|d| history.get(&d).copied().unwrap_or(0.0))
        .collect();
    if samples.len() < MIN_SAMPLES {
        return None;
    }
    let expected = median(&mut samples);
    let mut deviations: Vec<f64> = samples.iter().map(|x| (x - expected).abs()).collect();
    let mad = median(&mut deviations).max(0.05 * expected.abs()).max(0.01);
    let z = 0.6745 * (actual - expected) / mad;
    let impact = (actual - expected).abs();
    let (absolute_floor, percent_floor) = floors;
    let share_ok = expected.abs() < 1e-9 || impact / expected.abs() * 100.0 >= percent_floor;
    (z.abs() > Z_LIMIT && impact >= absolute_floor && share_ok).then(|| Judgement {
        expected,
        low: expected - Z_LIMIT * mad / 0.6745,
        high: expected + Z_LIMIT * mad / 0.6745,
        z,
    })
}

#[derive(QueryableByName)]
struct Floors {
    #[diesel(sql_type = Text)]
    absolute_floor: String,
    #[diesel(sql_type = Double)]
    percent_floor: f64,
}

async fn floors(conn: &mut Connection) -> AppResult<Floors> {
    Ok(diesel::sql_query("SELECT absolute_floor::text AS absolute_floor, percent_floor FROM cost_anomaly_settings")
        .get_result(conn)
        .await?)
}

#[derive(QueryableByName)]
struct DailyCost {
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Text)]
    service_name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = Double)]
    cost: f64,
    #[diesel(sql_type = Date)]
    first: NaiveDate,
}

type Group = (String, String, String);

/// Finds the anomalies among the days whose costs changed — from `since` (`None`: every day)
/// and always the newest week — in the caller's transaction; returns how many are new. Only
/// the newest week is news: older anomalies (an import of last year's bills) are kept and
/// audited, but nobody is notified of them.
pub async fn detect(conn: &mut Connection, since: Option<NaiveDate>) -> AppResult<usize> {
    #[derive(QueryableByName)]
    struct Span {
        #[diesel(sql_type = Nullable<Date>)]
        first: Option<NaiveDate>,
        #[diesel(sql_type = Nullable<Date>)]
        newest: Option<NaiveDate>,
    }
    let Span { first: Some(first), newest: Some(newest) } =
        diesel::sql_query("SELECT min(day) AS first, max(day) AS newest FROM cost_allocated").get_result(conn).await?
    else {
        return Ok(0);
    };
    let news_from = newest - Duration::days(RECENT_DAYS - 1);
    let checked_from = since.unwrap_or(first).max(first).min(news_from);
    let floors = floors(conn).await?;
    let absolute: f64 = floors.absolute_floor.parse().unwrap_or(0.0);
    let rows: Vec<DailyCost> = diesel::sql_query(
        "WITH changed AS (
            SELECT target, service_name, currency, day, sum(effective_cost)::float8 AS cost
              FROM cost_allocated WHERE day >= $1::date - $2 GROUP BY 1, 2, 3, 4),
         firsts AS (
            SELECT target, service_name, currency, min(day) AS first FROM cost_allocated
             WHERE (target, service_name, currency) IN (SELECT target, service_name, currency FROM changed
                                                        WHERE day >= $1::date)
             GROUP BY 1, 2, 3)
         SELECT c.target, c.service_name, c.currency, c.day, c.cost, f.first
           FROM changed c JOIN firsts f USING (target, service_name, currency)",
    )
    .bind::<Date, _>(checked_from)
    .bind::<diesel::sql_types::Integer, _>((7 * WEEKS) as i32)
    .load(conn)
    .await?;
    let mut groups: HashMap<Group, (NaiveDate, BTreeMap<NaiveDate, f64>)> = HashMap::new();
    for row in rows {
        let entry = groups.entry((row.target, row.service_name, row.currency)).or_insert((row.first, BTreeMap::new()));
        entry.1.insert(row.day, row.cost);
    }
    #[derive(QueryableByName)]
    struct Covered {
        #[diesel(sql_type = Text)]
        currency: String,
        #[diesel(sql_type = Date)]
        day: NaiveDate,
    }
    let covered: HashSet<(String, NaiveDate)> =
        diesel::sql_query("SELECT DISTINCT currency, day FROM cost_allocated WHERE day >= $1::date - $2")
            .bind::<Date, _>(checked_from)
            .bind::<diesel::sql_types::Integer, _>((7 * WEEKS) as i32)
            .load::<Covered>(conn)
            .await?
            .into_iter()
            .map(|c| (c.currency, c.day))
            .collect();
    let mut found = Vec::new();
    for (group, (first, history)) in &groups {
        let covers = |d: NaiveDate| covered.contains(&(group.2.clone(), d));
        for (day, actual) in history.range(checked_from..) {
            if let Some(judgement) = judge(history, *first, covers, (*day, *actual), (absolute, floors.percent_floor)) {
                found.push((group.clone(), *day, *actual, judgement));
            }
        }
    }
    found.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    // Days checked again that no longer qualify (a corrected bill) are no longer anomalies,
    // unless someone acknowledged them.
    let keys: Vec<String> =
        found.iter().map(|((t, s, c), day, ..)| format!("{t}\u{1f}{s}\u{1f}{c}\u{1f}{day}")).collect();
    diesel::sql_query(
        "DELETE FROM cost_anomalies WHERE day >= $1 AND acknowledged_at IS NULL
            AND NOT (target || chr(31) || service_name || chr(31) || currency || chr(31) || day::text = ANY($2))",
    )
    .bind::<Date, _>(checked_from)
    .bind::<diesel::sql_types::Array<Text>, _>(&keys)
    .execute(conn)
    .await?;
    if found.is_empty() {
        return Ok(0);
    }
    let rules = allocation_repo::current_rules(conn).await?;
    let cells: Vec<CostCell> = found
        .iter()
        .map(|((target, service, currency), day, ..)| CostCell { target, service, currency, day: *day })
        .collect();
    let mut top: HashMap<(String, String, String, NaiveDate), Vec<serde_json::Value>> = HashMap::new();
    for r in allocation_repo::top_resources(conn, &rules, &cells, TOP_RESOURCES).await? {
        top.entry((r.target, r.service_name, r.currency, r.day))
            .or_default()
            .push(json!({ "resource": r.resource, "cost": r.cost }));
    }
    let mut new = 0;
    for ((target, service, currency), day, actual, judgement) in found {
        let key = (target, service, currency, day);
        let top = json!(top.remove(&key).unwrap_or_default());
        let (target, service, currency, day) = key;
        #[derive(QueryableByName)]
        struct Inserted {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            inserted: bool,
        }
        let Inserted { inserted } = diesel::sql_query(
            "INSERT INTO cost_anomalies (target, service_name, currency, day, actual, expected, low, high, z, top_resources)
             VALUES ($1, $2, $3, $4, round($5::numeric, 2), round($6::numeric, 2), round($7::numeric, 2),
                     round($8::numeric, 2), $9, $10)
             ON CONFLICT (target, service_name, currency, day) DO UPDATE SET
                 actual = EXCLUDED.actual, expected = EXCLUDED.expected, low = EXCLUDED.low, high = EXCLUDED.high,
                 z = EXCLUDED.z, top_resources = EXCLUDED.top_resources
             RETURNING (xmax = 0) AS inserted",
        )
        .bind::<Text, _>(&target)
        .bind::<Text, _>(&service)
        .bind::<Text, _>(&currency)
        .bind::<Date, _>(day)
        .bind::<Text, _>(format!("{actual}"))
        .bind::<Text, _>(format!("{}", judgement.expected))
        .bind::<Text, _>(format!("{}", judgement.low))
        .bind::<Text, _>(format!("{}", judgement.high))
        .bind::<Double, _>(judgement.z)
        .bind::<Jsonb, _>(&top)
        .get_result(conn)
        .await?;
        if inserted {
            new += 1;
            let found = Found { target: &target, service: &service, currency: &currency, day, actual };
            tell(conn, &found, &judgement, &top, day >= news_from).await?;
        }
    }
    Ok(new)
}

/// A new anomaly, as detected.
#[derive(Clone, Copy)]
struct Found<'a> {
    target: &'a str,
    service: &'a str,
    currency: &'a str,
    day: NaiveDate,
    actual: f64,
}

/// Audits a new anomaly; when it is news, also publishes it and tells its owners.
async fn tell(
    conn: &mut Connection,
    found: &Found<'_>,
    judgement: &Judgement,
    top: &serde_json::Value,
    news: bool,
) -> AppResult<()> {
    let Found { target, service, currency, day, actual } = *found;
    let source = AuditSource::system();
    let shown = if target.is_empty() { "Unallocated" } else { target };
    let (actual, expected) = (format!("{actual:.2}"), format!("{:.2}", judgement.expected));
    let event =
        AuditEvent::success(AuditAction::FinopsAnomalyDetected, format!("{shown} / {service}")).details(json!({
            "target": target, "service": service, "currency": currency, "day": day, "actual": actual,
            "expected": expected, "low": format!("{:.2}", judgement.low), "high": format!("{:.2}", judgement.high),
            "z": judgement.z, "top_resources": top,
        }));
    record(conn, &source, event).await?;
    if !news {
        return Ok(());
    }
    let published = Event::CostAnomaly {
        target: target.to_owned(),
        service: service.to_owned(),
        day,
        actual: actual.clone(),
        expected: expected.clone(),
        currency: currency.to_owned(),
    };
    bus::publish(conn, published).await?;
    let notice = Notice {
        kind: NotificationKind::CostAnomaly,
        title: format!("{service} of {shown} cost {actual} {currency} on {day}"),
        body: format!("Expected about {expected} {currency} from the same weekday of the weeks before."),
        link: Some("/finops/anomalies".into()),
    };
    tell_owners(conn, Some(target), &source, notice).await
}

#[derive(QueryableByName)]
struct AnomalyRow {
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Text)]
    service_name: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = Text)]
    actual: String,
    #[diesel(sql_type = Text)]
    expected: String,
    #[diesel(sql_type = Text)]
    low: String,
    #[diesel(sql_type = Text)]
    high: String,
    #[diesel(sql_type = Double)]
    z: f64,
    #[diesel(sql_type = Jsonb)]
    top_resources: serde_json::Value,
    #[diesel(sql_type = Nullable<Text>)]
    acknowledged_by: Option<String>,
}

/// The newest anomalies and the tenant's floors.
pub async fn overview(db: &Database, tenant: &Tenant) -> AppResult<AnomaliesView> {
    db.with_tenant(tenant, |conn| {
        Box::pin(async move {
            let floors = floors(conn).await?;
            let anomalies = newest(conn, None).await?;
            Ok(AnomaliesView { absolute_floor: floors.absolute_floor, percent_floor: floors.percent_floor, anomalies })
        })
    })
    .await
}

/// The newest anomalies of what `group` owns (its team page, Cost Insights' alerts).
pub async fn of_group(db: &Database, tenant: &Tenant, group: &EntityRef) -> AppResult<Vec<AnomalyView>> {
    let group = group.key();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let targets = allocation_repo::covered_by(conn, &group).await?;
            newest(conn, Some(&targets)).await
        })
    })
    .await
}

/// The newest anomalies, of `targets` only when given.
async fn newest(conn: &mut Connection, targets: Option<&[String]>) -> AppResult<Vec<AnomalyView>> {
    let rows: Vec<AnomalyRow> = diesel::sql_query(
        "SELECT target, service_name, currency, day, actual::text AS actual, expected::text AS expected,
                low::text AS low, high::text AS high, z, top_resources, acknowledged_by
           FROM cost_anomalies WHERE $2::text[] IS NULL OR target = ANY($2)
          ORDER BY day DESC, abs(z) DESC LIMIT $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(LISTED)
    .bind::<Nullable<diesel::sql_types::Array<Text>>, _>(targets)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AnomalyView {
            top_resources: r
                .top_resources
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            let text = |k: &str| i.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                            (text("resource"), text("cost"))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            target: r.target,
            service: r.service_name,
            currency: r.currency,
            day: r.day,
            actual: r.actual,
            expected: r.expected,
            low: r.low,
            high: r.high,
            z: r.z,
            acknowledged_by: r.acknowledged_by,
        })
        .collect())
}

/// Marks an anomaly acknowledged by the caller.
pub async fn acknowledge(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    (target, service, currency, day): (String, String, String, NaiveDate),
) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let changed = diesel::sql_query(
                "UPDATE cost_anomalies SET acknowledged_at = now(), acknowledged_by = $5
                  WHERE target = $1 AND service_name = $2 AND currency = $3 AND day = $4 AND acknowledged_at IS NULL",
            )
            .bind::<Text, _>(&target)
            .bind::<Text, _>(&service)
            .bind::<Text, _>(&currency)
            .bind::<Date, _>(day)
            .bind::<Text, _>(&source.actor)
            .execute(conn)
            .await?;
            if changed == 0 {
                return Err(AppError::not_found("No such anomaly waiting to be acknowledged."));
            }
            let shown = if target.is_empty() { "Unallocated" } else { target.as_str() };
            let event = AuditEvent::success(AuditAction::FinopsAnomalyAcknowledged, format!("{shown} / {service}"))
                .details(json!({ "target": target, "service": service, "currency": currency, "day": day }));
            record(conn, &source, event).await
        })
    })
    .await
}

/// Sets the floors: an amount (in each currency) and a percent of the expected cost.
pub async fn set_floors(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    absolute: &str,
    percent: &str,
) -> AppResult<()> {
    let absolute = absolute.trim().to_owned();
    if !absolute.parse::<f64>().is_ok_and(|a| a.is_finite() && (0.0..1e12).contains(&a)) {
        return Err(AppError::invalid("The amount floor is a number of at least 0, like 10."));
    }
    let percent: f64 = percent
        .trim()
        .trim_end_matches('%')
        .parse()
        .ok()
        .filter(|p: &f64| p.is_finite() && (0.0..=10_000.0).contains(p))
        .ok_or_else(|| AppError::invalid("The percent floor is a number from 0 to 10000, like 20."))?;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            diesel::sql_query("UPDATE cost_anomaly_settings SET absolute_floor = $1::numeric, percent_floor = $2")
                .bind::<Text, _>(&absolute)
                .bind::<Double, _>(percent)
                .execute(conn)
                .await?;
            let event = AuditEvent::success(AuditAction::FinopsAnomalyFloorsChanged, "anomaly floors")
                .details(json!({ "absolute_floor": absolute, "percent_floor": percent }));
            record(conn, &source, event).await
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 9, 1).unwrap() + Duration::days(n)
    }

    /// Eight weeks of a weekday at 10, 12, 10, 11, 9, 10, 13, 10: median 10, deviations
    /// 0, 2, 0, 1, 1, 0, 3, 0 → MAD 0.5; 25 is z = 0.6745 · 15 / 0.5 = 20.2.
    #[test]
    fn a_spike_is_judged_against_the_same_weekday() {
        let weekly = [10.0, 12.0, 10.0, 11.0, 9.0, 10.0, 13.0, 10.0];
        let mut history = BTreeMap::new();
        for (k, value) in weekly.iter().enumerate() {
            history.insert(day(56 - 7 * (k as i64 + 1)), *value);
        }
        let judged = judge(&history, day(0), |_| true, (day(56), 25.0), (10.0, 20.0)).expect("an anomaly");
        assert_eq!(judged.expected, 10.0);
        assert!((judged.z - 0.6745 * 15.0 / 0.5).abs() < 1e-9, "{}", judged.z);
        assert!((judged.high - (10.0 + 3.5 * 0.5 / 0.6745)).abs() < 1e-9);
        // Within the floors: 15 over is not an anomaly when the floor is 20.
        assert!(judge(&history, day(0), |_| true, (day(56), 25.0), (20.0, 20.0)).is_none());
        // An ordinary day is not.
        assert!(judge(&history, day(0), |_| true, (day(56), 11.0), (0.0, 0.0)).is_none());
        // Too little history: not judged.
        assert!(judge(&history, day(50), |_| true, (day(56), 25.0), (0.0, 0.0)).is_none());
    }

    #[test]
    fn a_flat_baseline_is_judged_by_the_floors() {
        let history: BTreeMap<NaiveDate, f64> = (0..56).map(|d| (day(d), 2.0)).collect();
        assert!(judge(&history, day(0), |_| true, (day(56), 50.0), (10.0, 20.0)).is_some(), "48 over a flat 2.00");
        assert!(
            judge(&history, day(0), |_| true, (day(56), 2.5), (10.0, 20.0)).is_none(),
            "0.50 over: under the floor"
        );
    }

    /// A correction dated a month back starts the group early; the weeks the bills do not
    /// cover are not zeros to compare with.
    #[test]
    fn days_the_bills_do_not_cover_are_not_samples() {
        let mut history: BTreeMap<NaiveDate, f64> = (36..57).map(|d| (day(d), 10.0)).collect();
        history.insert(day(0), -25.0);
        let covered = |d: NaiveDate| d == day(0) || d >= day(36);
        assert!(judge(&history, day(0), covered, (day(57), 10.0), (0.0, 0.0)).is_none(), "3 weeks: not judged");
        assert!(judge(&history, day(0), |_| true, (day(57), 10.0), (0.0, 0.0)).is_some(), "zeros would make it one");
    }
}
