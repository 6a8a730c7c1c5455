//! The backend Backstage's Cost Insights plugin expects (its `CostInsightsApi`, which Spotify
//! never shipped a server for): daily cost per group, per project (a catalog entity the group
//! owns) and per catalog entity, from the allocated amortized cost, product insights (a cloud
//! service's cost for a group, by entity) and alerts (the cost anomalies of what a group owns),
//! in the plugin's own shapes. A Backstage app's client is then one fetch per method.

use std::collections::BTreeMap;

use chrono::{Days, Months, NaiveDate};
use serde::Serialize;

use super::allocation_repo as repo;
use crate::catalog::refs::EntityRef;
use crate::catalog::teams;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

/// The longest window one request may cover (all periods together).
pub const MAX_WINDOW_DAYS: u64 = 3 * 366;

/// The plugin's `intervals`: `R<periods>/P<n>D|P<n>M/<end>`, ISO 8601 repeating intervals
/// ending on an exclusive date (`R2/P30D/2020-09-01` is the 60 days from 2020-07-03 to
/// 2020-08-31, two periods of 30 compared with each other).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intervals {
    /// First day, inclusive.
    pub start: NaiveDate,
    /// First day of the last period: the one compared with the period before it.
    pub last_period: NaiveDate,
    /// First day of the period before the last.
    pub previous_period: NaiveDate,
    /// The day after the window.
    pub end: NaiveDate,
}

impl Intervals {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let invalid = || {
            AppError::invalid(format!(
                "intervals `{raw}` must read R<periods>/P<n>D or P<n>M/<end date, exclusive>, e.g. R2/P30D/2020-09-01"
            ))
        };
        let mut parts = raw.trim().split('/');
        let (Some(repeat), Some(duration), Some(end), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let periods: u32 = repeat.strip_prefix('R').and_then(|n| n.parse().ok()).ok_or_else(invalid)?;
        if !(2..=24).contains(&periods) {
            return Err(AppError::invalid("intervals compare 2 to 24 periods (R2 … R24)"));
        }
        let end = NaiveDate::parse_from_str(end, "%Y-%m-%d").map_err(|_| invalid())?;
        let body = duration.strip_prefix('P').ok_or_else(invalid)?;
        let unit = body.chars().last().filter(|c| matches!(c, 'D' | 'M')).ok_or_else(invalid)?;
        let count: u32 = body[..body.len() - 1].parse().ok().filter(|n| *n > 0).ok_or_else(invalid)?;
        // Periods back from the end; None past the calendar's range.
        let back = |n: u32| -> Option<NaiveDate> {
            match unit {
                'D' => end.checked_sub_days(Days::new(u64::from(n) * u64::from(count))),
                _ => end.checked_sub_months(Months::new(n.checked_mul(count)?)),
            }
        };
        let too_long = || AppError::invalid(format!("intervals may cover at most {MAX_WINDOW_DAYS} days in all"));
        let start = back(periods).ok_or_else(too_long)?;
        if (end - start).num_days() as u64 > MAX_WINDOW_DAYS {
            return Err(too_long());
        }
        let (Some(last_period), Some(previous_period)) = (back(1), back(2)) else { return Err(invalid()) };
        Ok(Self { start, last_period, previous_period, end })
    }

    fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.start.iter_days().take_while(|day| *day < self.end)
    }
}

/// `Cost` of the plugin: daily amounts, the last period against the one before, a trend line.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub id: String,
    /// Not in the plugin's type (it formats with its configured currency): which currency the
    /// amounts are in, the one with the most cost in the window unless the request named one.
    pub currency: Option<String>,
    pub aggregation: Vec<DateAggregation>,
    pub change: ChangeStatistic,
    pub trendline: Trendline,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouped_costs: Option<BTreeMap<String, Vec<Cost>>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DateAggregation {
    pub date: String,
    pub amount: f64,
}

/// The plugin leaves `ratio` out where either side is zero (it shows ±∞).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangeStatistic {
    pub amount: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// Least squares over (seconds since the epoch at the day's midnight UTC, amount), as the
/// plugin's chart draws it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Trendline {
    pub slope: f64,
    pub intercept: f64,
}

/// The plugin's `Group` and `Project`: an entity ref and its display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Named {
    pub id: String,
    pub name: Option<String>,
}

/// What a daily cost is asked for.
pub enum Subject {
    /// A group: what is allocated to it and to every entity it owns, grouped by entity.
    Group(EntityRef),
    /// One entity (a project): what is allocated to it.
    Entity(EntityRef),
}

/// `getLastCompleteBillingDate`: the newest day with allocated cost.
pub async fn last_complete_billing_date(db: &Database, tenant: &Tenant) -> AppResult<NaiveDate> {
    db.with_tenant(tenant, |conn| Box::pin(async move { repo::window(conn).await }))
        .await?
        .map(|(_, last)| last)
        .ok_or_else(|| AppError::not_found("No cost has been imported yet."))
}

/// `getUserGroups`: the groups the user entity is a member of.
pub async fn user_groups(db: &Database, tenant: &Tenant, user: &EntityRef) -> AppResult<Vec<Named>> {
    let user = user.key();
    let teams =
        db.with_tenant(tenant, move |conn| Box::pin(async move { teams::groups_of(conn, &user).await })).await?;
    Ok(teams.into_iter().map(|t| Named { id: t.entity_ref, name: t.name }).collect())
}

/// `getGroupProjects`: the entities the group owns that have allocated cost.
pub async fn group_projects(db: &Database, tenant: &Tenant, group: &EntityRef) -> AppResult<Vec<Named>> {
    let group = group.key();
    let rows = db
        .with_tenant(tenant, move |conn| Box::pin(async move { repo::costed_entities_of(conn, &group).await }))
        .await?;
    Ok(rows.into_iter().map(|(id, name)| Named { id, name }).collect())
}

/// `getGroupDailyCost`, `getProjectDailyCost` and `getCatalogEntityDailyCost`.
pub async fn daily_cost(
    db: &Database,
    tenant: &Tenant,
    subject: Subject,
    intervals: Intervals,
    currency: Option<String>,
) -> AppResult<Cost> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (id, targets) = match &subject {
                Subject::Group(group) => (group.key(), repo::covered_by(conn, &group.key()).await?),
                Subject::Entity(entity) => (entity.key(), vec![entity.key()]),
            };
            let currency = match currency {
                Some(currency) => Some(currency.trim().to_uppercase()),
                None => repo::largest_currency(conn, &targets, intervals.start, intervals.end).await?,
            };
            let amounts = match &currency {
                Some(currency) => {
                    repo::daily_by_target(conn, &targets, (currency, None), intervals.start, intervals.end).await?
                }
                None => Vec::new(),
            };
            let mut by_target: BTreeMap<&str, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
            for row in &amounts {
                *by_target.entry(&row.target).or_default().entry(row.day).or_default() += row.amount;
            }
            let mut total: BTreeMap<NaiveDate, f64> = BTreeMap::new();
            for days in by_target.values() {
                for (day, amount) in days {
                    *total.entry(*day).or_default() += amount;
                }
            }
            let grouped = matches!(subject, Subject::Group(_)).then(|| {
                let mut projects: Vec<Cost> = by_target
                    .iter()
                    .map(|(target, days)| cost((*target).to_owned(), currency.clone(), days, &intervals, None))
                    .collect();
                projects.sort_by(|a, b| sum(b).total_cmp(&sum(a)).then_with(|| a.id.cmp(&b.id)));
                BTreeMap::from([("project".to_owned(), projects)])
            });
            Ok(cost(id, currency, &total, &intervals, grouped))
        })
    })
    .await
}

/// The plugin's `Entity` of product insights: the two periods' totals, their change, and the
/// same per breakdown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InsightEntity {
    pub id: Option<String>,
    pub currency: Option<String>,
    /// The period before the last, then the last.
    pub aggregation: [f64; 2],
    pub change: ChangeStatistic,
    pub entities: BTreeMap<String, Vec<InsightEntity>>,
}

/// `getProductInsights({product, group, intervals, project})`: what the product (a cloud
/// service, as bills name it: `Amazon Simple Storage Service`) cost the group — or one of its
/// projects — in the last period against the one before, by catalog entity.
pub async fn product_insights(
    db: &Database,
    tenant: &Tenant,
    (product, subject): (String, Subject),
    intervals: Intervals,
    currency: Option<String>,
) -> AppResult<InsightEntity> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let targets = match &subject {
                Subject::Group(group) => repo::covered_by(conn, &group.key()).await?,
                Subject::Entity(entity) => vec![entity.key()],
            };
            let currency = match currency {
                Some(currency) => Some(currency.trim().to_uppercase()),
                None => repo::largest_currency(conn, &targets, intervals.start, intervals.end).await?,
            };
            let amounts = match &currency {
                Some(currency) => {
                    let (from, to) = (intervals.previous_period, intervals.end);
                    repo::daily_by_target(conn, &targets, (currency, Some(&product)), from, to).await?
                }
                None => Vec::new(),
            };
            let mut by_target: BTreeMap<String, [f64; 2]> = BTreeMap::new();
            for row in amounts {
                let period = usize::from(row.day >= intervals.last_period);
                by_target.entry(row.target).or_default()[period] += row.amount;
            }
            let total = by_target.values().fold([0.0, 0.0], |sum, a| [sum[0] + a[0], sum[1] + a[1]]);
            let insight = |id: String, aggregation: [f64; 2], entities| InsightEntity {
                id: Some(id),
                currency: currency.clone(),
                aggregation,
                change: change(aggregation[0], aggregation[1]),
                entities,
            };
            let mut entities: Vec<InsightEntity> =
                by_target.into_iter().map(|(target, a)| insight(target, a, BTreeMap::new())).collect();
            entities.sort_by(|a, b| b.aggregation[1].total_cmp(&a.aggregation[1]).then_with(|| a.id.cmp(&b.id)));
            Ok(insight(product, total, BTreeMap::from([("entity".to_owned(), entities)])))
        })
    })
    .await
}

/// The plugin's `Alert`, in the fields it renders from data: a title, a subtitle, a link, and
/// `accepted` once someone acknowledged it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub title: String,
    pub subtitle: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// `getAlerts(group)`: the cost anomalies of what the group owns, newest first.
pub async fn alerts(db: &Database, tenant: &Tenant, group: &EntityRef) -> AppResult<Vec<Alert>> {
    Ok(super::anomalies::of_group(db, tenant, group)
        .await?
        .into_iter()
        .map(|a| Alert {
            title: format!("{} of {} cost {} {} on {}", a.service, a.target, a.actual, a.currency, a.day),
            subtitle: format!(
                "Expected about {} {} (usual range {} to {}) from the same weekday of the weeks before; z = {:.1}.",
                a.expected, a.currency, a.low, a.high, a.z
            ),
            url: "/finops/anomalies".into(),
            status: a.acknowledged_by.is_some().then_some("accepted"),
        })
        .collect())
}

fn sum(cost: &Cost) -> f64 {
    cost.aggregation.iter().map(|a| a.amount).sum()
}

/// The Cost of daily amounts over the window: every day present (zero where nothing was spent).
fn cost(
    id: String,
    currency: Option<String>,
    amounts: &BTreeMap<NaiveDate, f64>,
    intervals: &Intervals,
    grouped_costs: Option<BTreeMap<String, Vec<Cost>>>,
) -> Cost {
    let daily: Vec<(NaiveDate, f64)> =
        intervals.days().map(|day| (day, amounts.get(&day).copied().unwrap_or(0.0))).collect();
    let within = |from: NaiveDate, to: NaiveDate| -> f64 {
        daily.iter().filter(|(day, _)| *day >= from && *day < to).map(|(_, amount)| amount).sum()
    };
    let previous = within(intervals.previous_period, intervals.last_period);
    let last = within(intervals.last_period, intervals.end);
    Cost {
        id,
        currency,
        aggregation: daily
            .iter()
            .map(|(day, amount)| DateAggregation { date: day.to_string(), amount: *amount })
            .collect(),
        change: change(previous, last),
        trendline: trendline(&daily),
        grouped_costs,
    }
}

fn change(previous: f64, last: f64) -> ChangeStatistic {
    let ratio = (previous != 0.0 && last != 0.0).then(|| (last - previous) / previous);
    ChangeStatistic { amount: last - previous, ratio }
}

fn trendline(daily: &[(NaiveDate, f64)]) -> Trendline {
    let points: Vec<(f64, f64)> = daily
        .iter()
        .map(|(day, amount)| (day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp() as f64, *amount))
        .collect();
    let n = points.len() as f64;
    if points.len() < 2 {
        return Trendline { slope: 0.0, intercept: points.as_slice().first().map_or(0.0, |p| p.1) };
    }
    let (mean_x, mean_y) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let covariance: f64 = points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let variance: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let slope = covariance / variance;
    Trendline { slope, intercept: mean_y - slope * mean_x }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn intervals_read_as_the_plugin_writes_them() {
        let days = Intervals::parse("R2/P30D/2020-09-01").unwrap();
        assert_eq!(days.start, date("2020-07-03"));
        assert_eq!(days.previous_period, date("2020-07-03"));
        assert_eq!(days.last_period, date("2020-08-02"));
        assert_eq!(days.end, date("2020-09-01"));
        assert_eq!(days.days().count(), 60);
        assert_eq!(days.days().last(), Some(date("2020-08-31")));
        // Quarters, as the plugin sends them (ending on a quarter's first day).
        let quarters = Intervals::parse("R2/P3M/2020-07-01").unwrap();
        assert_eq!((quarters.start, quarters.last_period), (date("2020-01-01"), date("2020-04-01")));
        let three = Intervals::parse("R3/P7D/2024-01-08").unwrap();
        assert_eq!((three.start, three.previous_period), (date("2023-12-18"), date("2023-12-25")));
        for bad in [
            "",
            "R2/P30D",
            "R2/30D/2020-09-01",
            "R2/P0D/2020-09-01",
            "R2/P30W/2020-09-01",
            "R1/P30D/2020-09-01",
            "R2/P3é/2020-09-01",
        ] {
            assert!(Intervals::parse(bad).is_err(), "{bad}");
        }
        assert!(Intervals::parse("R2/P30D/2020-13-01").is_err());
        assert!(Intervals::parse("R24/P3M/2020-07-01").is_err(), "72 months is past the window's bound");
        assert!(Intervals::parse("R2/P4294967295M/2020-07-01").is_err());
    }

    #[test]
    fn change_and_trend_follow_the_plugin() {
        assert_eq!(change(80.0, 90.0), ChangeStatistic { amount: 10.0, ratio: Some(0.125) });
        assert_eq!(change(2000.0, 0.0), ChangeStatistic { amount: -2000.0, ratio: None });
        let intervals = Intervals::parse("R2/P2D/2024-01-05").unwrap();
        // A straight line, 10 more each day: slope 10 a day in seconds, through the points.
        let amounts: BTreeMap<NaiveDate, f64> =
            intervals.days().enumerate().map(|(i, day)| (day, 100.0 + 10.0 * i as f64)).collect();
        let c = cost("x".into(), Some("USD".into()), &amounts, &intervals, None);
        assert_eq!(c.aggregation.len(), 4);
        assert_eq!(c.change, ChangeStatistic { amount: 40.0, ratio: Some(40.0 / 210.0) });
        assert!((c.trendline.slope - 10.0 / 86_400.0).abs() < 1e-12);
        let first = date("2024-01-01").and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() as f64;
        assert!((c.trendline.slope * first + c.trendline.intercept - 100.0).abs() < 1e-6);
        let empty = cost("y".into(), None, &BTreeMap::new(), &intervals, None);
        assert!(empty.aggregation.iter().all(|a| a.amount == 0.0));
        assert_eq!(empty.trendline, Trendline { slope: 0.0, intercept: 0.0 });
    }
}
