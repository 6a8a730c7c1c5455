//! Budgets on allocated cost. A budget has a scope (the whole organisation, or a catalog
//! entity: a group counts what it owns too), a period (month, quarter, year), a metric (billed
//! or amortized cost, by charge day), an amount in one currency and thresholds on the actual
//! spend or the forecast. Its figures are for the period holding the newest imported day:
//! actual = spend from the period's start to that day; forecast = actual + for each remaining
//! day of the period, the mean of the same weekday over the last 28 days.
//!
//! Budgets are evaluated in the transaction that changes the figures (an import, a recompute
//! of the allocation) and when a budget is added. A threshold fires once per period (a new
//! period re-arms it): audited, and the owners are told: a team's members for a team or an
//! entity it owns, the FinOps maintainers and admins for the whole organisation; and published
//! as `finops:budget` (live pages, outbound webhooks).

use chrono::{Datelike, Months, NaiveDate, Utc};
use diesel::sql_types::{Array, Bool, Date, Integer, Jsonb, Nullable, Text};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;

use super::allocation_repo;
use super::model::{BudgetView, Threshold, ThresholdOn};
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::Role;
use crate::catalog::refs::EntityRef;
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::events::bus::{self, Event};
use crate::notifications::model::NotificationKind;
use crate::notifications::repo as notifications_repo;
use crate::notifications::service::{notify, tell_team, Notice};
use crate::tenancy::model::Tenant;

const MAX_BUDGETS: i64 = 200;
const MAX_THRESHOLDS: usize = 10;

/// A budget as someone asks for it.
pub struct NewBudget<'a> {
    pub name: &'a str,
    /// Empty: the whole organisation; else an entity ref (`group:team-a`).
    pub scope: &'a str,
    pub period: &'a str,
    pub metric: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    /// `80, 100 forecast`: percents, each on the actual spend unless followed by `forecast`.
    pub thresholds: &'a str,
}

pub fn parse_thresholds(raw: &str) -> AppResult<Vec<Threshold>> {
    let mut thresholds = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (number, on) = match item.split_once(char::is_whitespace) {
            Some((n, "forecast")) => (n, ThresholdOn::Forecast),
            Some((n, "actual")) => (n, ThresholdOn::Actual),
            None => (item, ThresholdOn::Actual),
            Some(_) => {
                return Err(AppError::invalid(format!("`{item}`: write a percent, optionally followed by `forecast`")))
            }
        };
        let percent: f64 = number
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite() && *p > 0.0 && *p <= 1000.0)
            .ok_or_else(|| AppError::invalid(format!("`{item}`: a threshold is a percent from 1 to 1000")))?;
        thresholds.push(Threshold { percent, on });
    }
    if thresholds.is_empty() || thresholds.len() > MAX_THRESHOLDS {
        return Err(AppError::invalid(format!("Give 1 to {MAX_THRESHOLDS} thresholds, like `80, 100 forecast`.")));
    }
    Ok(thresholds)
}

/// The period of `kind` holding `day`: [start, end).
pub fn period_of(kind: &str, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let month = |m: u32| NaiveDate::from_ymd_opt(day.year(), m, 1).expect("a valid month");
    let start = match kind {
        "year" => month(1),
        "quarter" => month((day.month0() / 3) * 3 + 1),
        _ => month(day.month()),
    };
    let months = match kind {
        "year" => 12,
        "quarter" => 3,
        _ => 1,
    };
    (start, start + Months::new(months))
}

#[derive(QueryableByName)]
struct BudgetRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    scope: String,
    #[diesel(sql_type = Text)]
    period: String,
    #[diesel(sql_type = Text)]
    metric: String,
    #[diesel(sql_type = Text)]
    amount: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Jsonb)]
    thresholds: serde_json::Value,
}

async fn budgets(conn: &mut Connection) -> AppResult<Vec<BudgetRow>> {
    Ok(diesel::sql_query(
        "SELECT id, name, scope, period, metric, amount::text AS amount, currency, thresholds
           FROM cost_budgets ORDER BY name, id",
    )
    .load(conn)
    .await?)
}

/// The allocation targets a scope covers; `None` for the whole organisation.
async fn targets(conn: &mut Connection, scope: &str) -> AppResult<Option<Vec<String>>> {
    Ok(match scope {
        "" => None,
        entity => Some(allocation_repo::covered_by(conn, entity).await?),
    })
}

/// A budget's period holding the newest day imported in its currency, that day, and the
/// spend and forecast of its scope.
async fn figures(conn: &mut Connection, budget: &BudgetRow) -> AppResult<(NaiveDate, NaiveDate, NaiveDate, Spend)> {
    let as_of = newest_day(conn, &budget.currency).await?.unwrap_or_else(|| Utc::now().date_naive());
    let (start, end) = period_of(&budget.period, as_of);
    let targets = targets(conn, &budget.scope).await?;
    let period = Period { start, as_of, end };
    let spend =
        spend_and_forecast(conn, &budget.currency, targets.as_deref(), budget.metric == "billed", period).await?;
    Ok((start, end, as_of, spend))
}

/// The newest day with cost imported in `currency`.
pub async fn newest_day(conn: &mut Connection, currency: &str) -> AppResult<Option<NaiveDate>> {
    #[derive(QueryableByName)]
    struct Newest {
        #[diesel(sql_type = Nullable<Date>)]
        day: Option<NaiveDate>,
    }
    let newest: Newest = diesel::sql_query("SELECT max(day) AS day FROM cost_allocated WHERE currency = $1")
        .bind::<Text, _>(currency)
        .get_result(conn)
        .await?;
    Ok(newest.day)
}

/// A period [start, end) seen on `as_of`, the newest day with data.
#[derive(Clone, Copy, Debug)]
pub struct Period {
    pub start: NaiveDate,
    pub as_of: NaiveDate,
    pub end: NaiveDate,
}

/// Spend so far and forecast to the period's end, rounded to cents.
#[derive(QueryableByName, Clone, Debug)]
pub struct Spend {
    #[diesel(sql_type = Text)]
    pub actual: String,
    #[diesel(sql_type = Text)]
    pub forecast: String,
}

/// The spend in `currency` of `targets` (`None`: everything, Unallocated included) from the
/// period's start to `as_of`, and the forecast: that plus, for each remaining day of the
/// period, the mean of the same weekday over the 28 days to `as_of`. Billed or amortized cost,
/// by the day it was charged.
pub async fn spend_and_forecast(
    conn: &mut Connection,
    currency: &str,
    targets: Option<&[String]>,
    billed: bool,
    Period { start, as_of, end }: Period,
) -> AppResult<Spend> {
    let column = if billed { "billed_cost" } else { "effective_cost" };
    Ok(diesel::sql_query(format!(
        "WITH daily AS (
            SELECT day, sum({column}) AS cost FROM cost_allocated
             WHERE currency = $1 AND ($2 OR target = ANY($3)) AND day >= least($4::date, $5::date - 27) AND day <= $5
             GROUP BY day),
         recent AS (
            SELECT d::date AS day, coalesce(x.cost, 0) AS cost
              FROM generate_series($5::date - 27, $5::date, interval '1 day') d LEFT JOIN daily x ON x.day = d::date),
         weekdays AS (SELECT extract(isodow FROM day) AS dow, avg(cost) AS mean FROM recent GROUP BY 1),
         totals AS (
            SELECT coalesce((SELECT sum(cost) FROM daily WHERE day >= $4), 0) AS actual,
                   coalesce((SELECT sum(w.mean) FROM generate_series($5::date + 1, $6::date - 1, interval '1 day') r
                               JOIN weekdays w ON w.dow = extract(isodow FROM r)), 0) AS rest)
         SELECT round(actual, 2)::text AS actual, round(actual + rest, 2)::text AS forecast FROM totals"
    ))
    .bind::<Text, _>(currency)
    .bind::<Bool, _>(targets.is_none())
    .bind::<Array<Text>, _>(targets.unwrap_or_default())
    .bind::<Date, _>(start)
    .bind::<Date, _>(as_of)
    .bind::<Date, _>(end)
    .get_result(conn)
    .await?)
}

fn percent(part: &str, whole: &str) -> f64 {
    match (part.parse::<f64>(), whole.parse::<f64>()) {
        (Ok(part), Ok(whole)) if whole > 0.0 => 100.0 * part / whole,
        _ => 0.0,
    }
}

/// Every budget with its current figures and the thresholds that fired this period.
pub async fn overview(db: &Database, tenant: &Tenant) -> AppResult<Vec<BudgetView>> {
    db.with_tenant(tenant, |conn| Box::pin(async move { views(conn).await })).await
}

async fn views(conn: &mut Connection) -> AppResult<Vec<BudgetView>> {
    let mut views = Vec::new();
    for budget in budgets(conn).await? {
        let (period_start, period_end, as_of, spend) = figures(conn, &budget).await?;
        let actual_percent = percent(&spend.actual, &budget.amount);
        let forecast_percent = percent(&spend.forecast, &budget.amount);
        let fired = fired(conn, budget.id, period_start).await?;
        views.push(BudgetView {
            thresholds: serde_json::from_value(budget.thresholds).unwrap_or_default(),
            id: budget.id,
            name: budget.name,
            scope: Some(budget.scope).filter(|s| !s.is_empty()),
            period: budget.period,
            metric: budget.metric,
            amount: budget.amount,
            currency: budget.currency,
            period_start,
            period_end,
            as_of,
            actual_percent,
            forecast_percent,
            actual: spend.actual,
            forecast: spend.forecast,
            fired,
        });
    }
    Ok(views)
}

async fn fired(conn: &mut Connection, budget: Uuid, period_start: NaiveDate) -> AppResult<Vec<usize>> {
    #[derive(QueryableByName)]
    struct Fired {
        #[diesel(sql_type = Integer)]
        threshold: i32,
    }
    let rows: Vec<Fired> = diesel::sql_query(
        "SELECT threshold FROM cost_budget_alerts WHERE budget_id = $1 AND period_start = $2 ORDER BY threshold",
    )
    .bind::<diesel::sql_types::Uuid, _>(budget)
    .bind::<Date, _>(period_start)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.threshold as usize).collect())
}

/// Fires the thresholds every budget crossed this period that had not fired yet, in the
/// caller's transaction; returns how many fired.
pub async fn evaluate(conn: &mut Connection) -> AppResult<usize> {
    let mut count = 0;
    for view in views(conn).await? {
        for (index, threshold) in view.thresholds.iter().enumerate() {
            let value = match threshold.on {
                ThresholdOn::Actual => view.actual_percent,
                ThresholdOn::Forecast => view.forecast_percent,
            };
            if value < threshold.percent || view.fired.contains(&index) {
                continue;
            }
            let inserted = diesel::sql_query(
                "INSERT INTO cost_budget_alerts (budget_id, period_start, threshold, actual, forecast)
                 VALUES ($1, $2, $3, $4::numeric, $5::numeric) ON CONFLICT DO NOTHING",
            )
            .bind::<diesel::sql_types::Uuid, _>(view.id)
            .bind::<Date, _>(view.period_start)
            .bind::<Integer, _>(index as i32)
            .bind::<Text, _>(&view.actual)
            .bind::<Text, _>(&view.forecast)
            .execute(conn)
            .await?;
            if inserted == 1 {
                tell(conn, &view, *threshold).await?;
                count += 1;
            }
        }
    }
    Ok(count)
}

async fn tell(conn: &mut Connection, view: &BudgetView, threshold: Threshold) -> AppResult<()> {
    let (what, value) = match threshold.on {
        ThresholdOn::Actual => ("spent", &view.actual),
        ThresholdOn::Forecast => ("forecast to spend", &view.forecast),
    };
    let title = format!("Budget {} crossed {}%", view.name, threshold.percent);
    let body = format!(
        "{} has {} {} of {} {} this {} (from {} to {}).",
        view.scope.as_deref().unwrap_or("The organisation"),
        what,
        value,
        view.amount,
        view.currency,
        view.period,
        view.period_start,
        view.as_of,
    );
    let source = AuditSource::system();
    let event = AuditEvent::success(AuditAction::FinopsBudgetThresholdCrossed, view.name.clone()).details(json!({
        "budget": view.id,
        "period_start": view.period_start,
        "threshold": threshold,
        "actual": view.actual,
        "forecast": view.forecast,
        "amount": view.amount,
        "currency": view.currency,
    }));
    record(conn, &source, event).await?;
    let published = Event::BudgetThreshold {
        budget: view.id,
        name: view.name.clone(),
        scope: view.scope.clone(),
        percent: threshold.percent,
        on: match threshold.on {
            ThresholdOn::Actual => "actual",
            ThresholdOn::Forecast => "forecast",
        },
        actual: view.actual.clone(),
        forecast: view.forecast.clone(),
        amount: view.amount.clone(),
        currency: view.currency.clone(),
    };
    bus::publish(conn, published).await?;
    let notice = Notice { kind: NotificationKind::BudgetThreshold, title, body, link: Some("/finops/budgets".into()) };
    tell_owners(conn, view.scope.as_deref(), &source, notice).await
}

/// Tells who answers for cost of `scope`: a team's members for a group, the owning team's for
/// another entity, the maintainers and admins for the organisation (`None`, or Unallocated).
pub async fn tell_owners(
    conn: &mut Connection,
    scope: Option<&str>,
    source: &AuditSource,
    notice: Notice,
) -> AppResult<()> {
    match scope.filter(|s| !s.is_empty()) {
        Some(group) if group.starts_with("group:") => tell_team(conn, group, source, notice).await,
        Some(entity) => match owner_of(conn, entity).await? {
            Some(owner) => tell_team(conn, &owner, source, notice).await,
            None => Ok(()),
        },
        None => {
            let mut people = notifications_repo::members_with_role(conn, Role::Admin).await?;
            people.extend(notifications_repo::members_with_role(conn, Role::Maintainer).await?);
            for user in people {
                notify(conn, user, notice.clone()).await?;
            }
            Ok(())
        }
    }
}

async fn owner_of(conn: &mut Connection, entity: &str) -> AppResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Owner {
        #[diesel(sql_type = Nullable<Text>)]
        owner_ref: Option<String>,
    }
    let found: Option<Owner> = diesel::sql_query("SELECT owner_ref FROM entities WHERE entity_ref = $1")
        .bind::<Text, _>(entity)
        .get_result(conn)
        .await
        .optional()?;
    Ok(found.and_then(|o| o.owner_ref))
}

/// Adds a budget and evaluates it at once.
pub async fn add(db: &Database, tenant: &Tenant, source: AuditSource, new: NewBudget<'_>) -> AppResult<Uuid> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("Give the budget a name of at most 100 characters."));
    }
    let scope = match new.scope.trim() {
        "" => String::new(),
        raw => EntityRef::parse(raw, Some("group"), "default").map_err(AppError::invalid)?.to_string(),
    };
    if !matches!(new.period, "month" | "quarter" | "year") {
        return Err(AppError::invalid("The period is month, quarter or year."));
    }
    if !matches!(new.metric, "billed" | "amortized") {
        return Err(AppError::invalid("The metric is billed or amortized."));
    }
    let amount = new.amount.trim().replace(',', "");
    if !amount.parse::<f64>().is_ok_and(|a| a.is_finite() && a > 0.0 && a < 1e15) {
        return Err(AppError::invalid("The amount is a positive number, like 25000 or 1250.50."));
    }
    let currency = super::model::currency_code(new.currency)
        .ok_or_else(|| AppError::invalid("The currency is a three-letter ISO 4217 code, like USD."))?;
    let thresholds = parse_thresholds(new.thresholds)?;
    let id = Uuid::new_v4();
    let (period, metric) = (new.period.to_owned(), new.metric.to_owned());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            #[derive(QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let Count { n } = diesel::sql_query("SELECT count(*) AS n FROM cost_budgets").get_result(conn).await?;
            if n >= MAX_BUDGETS {
                return Err(AppError::invalid(format!("A tenant has at most {MAX_BUDGETS} budgets.")));
            }
            let thresholds_json = serde_json::to_value(&thresholds).map_err(AppError::internal)?;
            diesel::sql_query(
                "INSERT INTO cost_budgets (id, name, scope, period, metric, amount, currency, thresholds, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, $9)",
            )
            .bind::<diesel::sql_types::Uuid, _>(id)
            .bind::<Text, _>(&name)
            .bind::<Text, _>(&scope)
            .bind::<Text, _>(&period)
            .bind::<Text, _>(&metric)
            .bind::<Text, _>(&amount)
            .bind::<Text, _>(&currency)
            .bind::<Jsonb, _>(&thresholds_json)
            .bind::<Text, _>(&source.actor)
            .execute(conn)
            .await?;
            let event = AuditEvent::success(AuditAction::FinopsBudgetChanged, name.clone()).details(json!({
                "added": id, "scope": scope, "period": period, "metric": metric, "amount": amount,
                "currency": currency, "thresholds": thresholds_json,
            }));
            record(conn, &source, event).await?;
            evaluate(conn).await?;
            Ok(id)
        })
    })
    .await
}

pub async fn remove(db: &Database, tenant: &Tenant, source: AuditSource, id: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            #[derive(QueryableByName)]
            struct Name {
                #[diesel(sql_type = Text)]
                name: String,
            }
            let removed: Option<Name> = diesel::sql_query("DELETE FROM cost_budgets WHERE id = $1 RETURNING name")
                .bind::<diesel::sql_types::Uuid, _>(id)
                .get_result(conn)
                .await
                .optional()?;
            let Name { name } = removed.ok_or_else(|| AppError::not_found("No such budget in this tenant."))?;
            let event = AuditEvent::success(AuditAction::FinopsBudgetChanged, name).details(json!({ "removed": id }));
            record(conn, &source, event).await
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_as_written() {
        let parsed = parse_thresholds("80, 100 forecast, 120%").unwrap();
        assert_eq!(
            parsed,
            vec![
                Threshold { percent: 80.0, on: ThresholdOn::Actual },
                Threshold { percent: 100.0, on: ThresholdOn::Forecast },
                Threshold { percent: 120.0, on: ThresholdOn::Actual },
            ]
        );
        for bad in ["", "eighty", "80 later", "0", "-5", "NaN"] {
            assert!(parse_thresholds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_hold_the_day() {
        let day = NaiveDate::from_ymd_opt(2024, 8, 17).unwrap();
        let d = |m, dd| NaiveDate::from_ymd_opt(2024, m, dd).unwrap();
        assert_eq!(period_of("month", day), (d(8, 1), d(9, 1)));
        assert_eq!(period_of("quarter", day), (d(7, 1), d(10, 1)));
        assert_eq!(period_of("year", day), (d(1, 1), NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()));
    }
}
