//! The cost views: one month of one currency, as the invoices say it or as the days cost it.

use chrono::{Datelike, NaiveDate};

use super::model::{
    Conversion, CostOverview, CostView, CurrencyRates, EngineerRate, Movement, ALL_CURRENCIES, UNALLOCATED,
};
use super::repo::{self, Scope};
use crate::audit::model::AuditAction;
use crate::audit::service::{self as audit, AuditEvent, AuditSource};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

/// Rows of each breakdown table.
const BREAKDOWN_ROWS: usize = 10;

/// The breakdowns of the overview: their title and the `cost_monthly` column they group by.
const DIMENSIONS: [(&str, &str); 6] = [
    ("Service", "service_name"),
    ("Service category", "service_category"),
    ("Provider", "provider"),
    ("Billing account", "billing_account_id"),
    ("Sub-account", "sub_account_id"),
    ("Region", "region_id"),
];

/// After the allocated cost changed from `changed_from` on (`None`: any day), in the change's
/// transaction — an import, a recompute, OpenCost weights: budgets are evaluated again and the
/// changed days searched for anomalies.
pub async fn costs_changed(conn: &mut Connection, changed_from: Option<NaiveDate>) -> AppResult<()> {
    super::budgets::evaluate(conn).await?;
    super::anomalies::detect(conn, changed_from).await.map(drop)
}

/// The first day of `raw` (`2024-09`), if it names a month.
pub fn parse_month(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", raw.trim()), "%Y-%m-%d").ok()
}

pub async fn overview(
    db: &Database,
    tenant: &Tenant,
    view: CostView,
    currency: Option<String>,
    month: Option<NaiveDate>,
) -> AppResult<CostOverview> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let invoice = view == CostView::Invoice;
            let currencies = repo::currencies(conn).await?;
            let rates = repo::currency_rates(conn).await?;
            // The converted view: the reporting currency and every imported currency with a
            // rate, each multiplied into the reporting one; the others are said to be left out.
            let converted = match (currency.as_deref(), &rates) {
                (Some(ALL_CURRENCIES), Some(rates)) if !currencies.is_empty() => {
                    let (used, left_out): (Vec<&String>, Vec<&String>) = currencies
                        .iter()
                        .filter(|c| **c != rates.reporting)
                        .partition(|c| rates.rates.iter().any(|(rated, _)| rated == *c));
                    Some(Conversion {
                        used: rates.rates.iter().filter(|(c, _)| used.contains(&c)).cloned().collect(),
                        left_out: left_out.into_iter().cloned().collect(),
                    })
                }
                _ => None,
            };
            let currency = match (&converted, &rates) {
                (Some(_), Some(rates)) => Some(rates.reporting.clone()),
                _ => currency.filter(|c| currencies.contains(c)).or_else(|| currencies.first().cloned()),
            };
            let scope = match (&converted, &currency) {
                (Some(conversion), Some(reporting)) => Scope::converted(reporting, &conversion.used),
                (_, Some(currency)) => Scope::single(currency),
                (_, None) => Scope::single(""),
            };
            let mut overview = CostOverview {
                view,
                currencies,
                currency: currency.clone(),
                rates,
                converted: converted.clone(),
                months: Vec::new(),
                month: None,
                total: Movement { name: "Total".into(), amount: "0.00".into(), previous: "0.00".into() },
                daily: Vec::new(),
                monthly: Vec::new(),
                breakdowns: Vec::new(),
                movers: Vec::new(),
                unallocated_share: None,
                forecast: None,
                engineer_rate: repo::engineer_rate(conn).await?,
                engineers: None,
            };
            let Some(currency) = currency else { return Ok(overview) };
            overview.months = repo::months(conn, &scope, invoice).await?;
            let month = month.map(|m| m.with_day(1).unwrap_or(m)).filter(|m| overview.months.contains(m));
            let Some(month) = month.or_else(|| overview.months.first().copied()) else { return Ok(overview) };
            overview.month = Some(month);
            let movement = |name: &str, none: &str, amount: &str, previous: &str| Movement {
                name: if name.is_empty() { none.into() } else { name.to_owned() },
                amount: amount.to_owned(),
                previous: previous.to_owned(),
            };
            // Every value of every dimension, largest first; the page shows the first of each.
            let mut dimensions: Vec<(&str, Vec<Movement>)> = Vec::new();
            // Owners, systems and domains come from the allocation, which follows the days
            // charges were incurred.
            if !invoice {
                let lines = super::allocation_repo::by_catalog(conn, &scope, month).await?;
                for (title, dimension, none) in
                    [("Owner", "owner", UNALLOCATED), ("System", "system", "(none)"), ("Domain", "domain", "(none)")]
                {
                    let rows = lines
                        .iter()
                        .filter(|line| line.dimension == dimension)
                        .map(|line| movement(&line.name, none, &line.amount, &line.previous))
                        .collect();
                    dimensions.push((title, rows));
                }
            }
            let lines = repo::breakdowns(conn, &scope, month, invoice).await?;
            for (title, column) in DIMENSIONS {
                let rows = lines
                    .iter()
                    .filter(|line| line.dimension == column)
                    .map(|line| movement(&line.name, "(none)", &line.amount, &line.previous))
                    .collect();
                dimensions.push((title, rows));
            }
            overview.unallocated_share = unallocated_share(&dimensions);
            overview.movers = top_movers(&dimensions);
            overview.breakdowns = dimensions
                .into_iter()
                .map(|(title, rows)| (title.to_owned(), rows.into_iter().take(BREAKDOWN_ROWS).collect()))
                .collect();
            if let Some(total) = lines.iter().find(|line| line.dimension == "total") {
                overview.total =
                    Movement { name: "Total".into(), amount: total.amount.clone(), previous: total.previous.clone() };
            }
            overview.monthly = repo::monthly(conn, &scope, month, invoice)
                .await?
                .into_iter()
                .filter_map(|r| NaiveDate::parse_from_str(&r.name, "%Y-%m-%d").ok().map(|d| (d, r.amount)))
                .collect();
            // Budgets and forecasts are kept per currency: a converted view has none.
            if converted.is_none() {
                overview.forecast = month_end_forecast(conn, &currency, month, invoice).await?;
            }
            overview.engineers =
                overview.engineer_rate.as_ref().and_then(|rate| rate.engineers(&overview.total.amount, &currency));
            overview.daily = repo::daily(conn, &scope, month)
                .await?
                .into_iter()
                .filter_map(|r| NaiveDate::parse_from_str(&r.name, "%Y-%m-%d").ok().map(|d| (d, r.amount)))
                .collect();
            Ok::<_, AppError>(overview)
        })
    })
    .await
}

/// Values whose change on the month before is shown as a mover (with their dimension).
const MOVERS: usize = 5;

/// The owners and services whose cost changed most on the month before, by the size of the
/// change either way. Ordering only goes through floats: amounts stay exact text.
fn top_movers(dimensions: &[(&str, Vec<Movement>)]) -> Vec<(String, Movement)> {
    let change =
        |m: &Movement| (m.amount.parse::<f64>().unwrap_or(0.0) - m.previous.parse::<f64>().unwrap_or(0.0)).abs();
    let mut movers: Vec<(String, Movement)> = dimensions
        .iter()
        .filter(|(title, _)| ["Owner", "Service"].contains(title))
        .flat_map(|(title, rows)| rows.iter().map(|row| (title.to_string(), row.clone())))
        .filter(|(_, row)| change(row) >= 0.005)
        .collect();
    movers.sort_by(|a, b| change(&b.1).total_cmp(&change(&a.1)));
    movers.truncate(MOVERS);
    movers
}

/// The share of the month's allocated cost in Unallocated ("12.3%"), amortized only.
fn unallocated_share(dimensions: &[(&str, Vec<Movement>)]) -> Option<String> {
    let owners = &dimensions.iter().find(|(title, _)| *title == "Owner")?.1;
    let total: f64 = owners.iter().filter_map(|o| o.amount.parse::<f64>().ok()).sum();
    let unallocated: f64 = owners.iter().find(|o| o.name == UNALLOCATED)?.amount.parse().ok()?;
    (total.abs() >= 0.005).then(|| format!("{:.1}%", unallocated / total * 100.0))
}

/// The amortized forecast of `month` when the newest imported day falls in it and the month
/// is not over.
async fn month_end_forecast(
    conn: &mut Connection,
    currency: &str,
    month: NaiveDate,
    invoice: bool,
) -> AppResult<Option<(String, NaiveDate)>> {
    use super::budgets::{newest_day, period_of, spend_and_forecast, Period};
    let Some(as_of) = newest_day(conn, currency).await? else { return Ok(None) };
    let (start, end) = period_of("month", as_of);
    if invoice || start != month || as_of.succ_opt() == Some(end) {
        return Ok(None);
    }
    let spend = spend_and_forecast(conn, currency, None, false, Period { start, as_of, end }).await?;
    Ok(Some((spend.forecast, as_of)))
}

/// Sets what an engineer costs a month (`12,500` and `EUR`), or clears it when the amount is
/// empty. Maintainers and admins (checked by the caller); audited.
pub async fn set_engineer_rate(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    monthly_cost: &str,
    currency: &str,
) -> AppResult<()> {
    let rate = match monthly_cost.trim() {
        "" => None,
        raw => {
            let amount = super::parse::values::money(raw)
                .ok()
                .filter(|a| a.parse::<f64>().is_ok_and(|a| a > 0.0 && a < 1e12))
                .ok_or_else(|| AppError::invalid("An engineer's monthly cost is an amount above 0, like 12500."))?;
            let currency = super::model::currency_code(currency)
                .ok_or_else(|| AppError::invalid("The currency is a three-letter code, like USD."))?;
            Some(EngineerRate { monthly_cost: amount, currency })
        }
    };
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::set_engineer_rate(conn, rate.as_ref()).await?;
            let event = AuditEvent::success(AuditAction::FinopsEngineerCostChanged, "engineer cost").details(
                serde_json::json!({
                    "monthly_cost": rate.as_ref().map(|r| &r.monthly_cost),
                    "currency": rate.as_ref().map(|r| &r.currency),
                }),
            );
            audit::record(conn, &source, event).await
        })
    })
    .await
}

/// Sets the reporting currency and the rates of the converted view (`CAD 0.73` per line), or
/// removes them when no rate is given. Maintainers and admins (checked by the caller); audited.
pub async fn set_currency_rates(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    reporting: &str,
    lines: &str,
) -> AppResult<()> {
    let rates = match lines.trim().is_empty() {
        true => None,
        false => Some(CurrencyRates::parse(reporting, lines).map_err(AppError::invalid)?),
    };
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::set_currency_rates(conn, rates.as_ref()).await?;
            let event = AuditEvent::success(AuditAction::FinopsCurrencyRatesChanged, "currency rates")
                .details(serde_json::json!({ "rates": rates }));
            audit::record(conn, &source, event).await
        })
    })
    .await
}
