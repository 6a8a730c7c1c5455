//! The cost views: one month of one currency, as the invoices say it or as the days cost it.

use chrono::{Datelike, NaiveDate};

use super::model::{CostOverview, CostView, Movement, UNALLOCATED};
use super::repo;
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
            let currency = currency.filter(|c| currencies.contains(c)).or_else(|| currencies.first().cloned());
            let mut overview = CostOverview {
                view,
                currencies,
                currency: currency.clone(),
                months: Vec::new(),
                month: None,
                total: Movement { name: "Total".into(), amount: "0.00".into(), previous: "0.00".into() },
                daily: Vec::new(),
                monthly: Vec::new(),
                breakdowns: Vec::new(),
                forecast: None,
            };
            let Some(currency) = currency else { return Ok(overview) };
            overview.months = repo::months(conn, &currency, invoice).await?;
            let month = month.map(|m| m.with_day(1).unwrap_or(m)).filter(|m| overview.months.contains(m));
            let Some(month) = month.or_else(|| overview.months.first().copied()) else { return Ok(overview) };
            overview.month = Some(month);
            // Owners, systems and domains come from the allocation, which follows the days
            // charges were incurred.
            if !invoice {
                let lines = super::allocation_repo::by_catalog(conn, &currency, month).await?;
                for (title, dimension, none) in
                    [("Owner", "owner", UNALLOCATED), ("System", "system", "(none)"), ("Domain", "domain", "(none)")]
                {
                    let rows = lines
                        .iter()
                        .filter(|line| line.dimension == dimension)
                        .take(BREAKDOWN_ROWS)
                        .map(|line| Movement {
                            name: if line.name.is_empty() { none.into() } else { line.name.clone() },
                            amount: line.amount.clone(),
                            previous: line.previous.clone(),
                        })
                        .collect();
                    overview.breakdowns.push((title.to_owned(), rows));
                }
            }
            let lines = repo::breakdowns(conn, &currency, month, invoice).await?;
            for (title, column) in DIMENSIONS {
                let rows = lines
                    .iter()
                    .filter(|line| line.dimension == column)
                    .take(BREAKDOWN_ROWS)
                    .map(|line| Movement {
                        name: if line.name.is_empty() { "(none)".into() } else { line.name.clone() },
                        amount: line.amount.clone(),
                        previous: line.previous.clone(),
                    })
                    .collect();
                overview.breakdowns.push((title.to_owned(), rows));
            }
            if let Some(total) = lines.iter().find(|line| line.dimension == "total") {
                overview.total =
                    Movement { name: "Total".into(), amount: total.amount.clone(), previous: total.previous.clone() };
            }
            overview.monthly = repo::monthly(conn, &currency, month, invoice)
                .await?
                .into_iter()
                .filter_map(|r| NaiveDate::parse_from_str(&r.name, "%Y-%m-%d").ok().map(|d| (d, r.amount)))
                .collect();
            overview.forecast = month_end_forecast(conn, &currency, month, invoice).await?;
            overview.daily = repo::daily(conn, &currency, month)
                .await?
                .into_iter()
                .filter_map(|r| NaiveDate::parse_from_str(&r.name, "%Y-%m-%d").ok().map(|d| (d, r.amount)))
                .collect();
            Ok::<_, AppError>(overview)
        })
    })
    .await
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
