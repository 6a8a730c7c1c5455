//! FinOps queries. Rows are staged under their import's id and only the commit makes them
//! count: it moves each (source, billing account, billing period) to the new import, deletes
//! what the replaced imports held there and sums the new rows into `cost_daily`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

use super::model::{CurrencyRates, EngineerRate, ImportStatus, PeriodTotal};
use super::parse::CostRecord;
use crate::db::copy::{BulkLoad, CopyIn, Numeric};
use crate::db::Connection;
use crate::error::AppResult;

pub struct NewImport<'a> {
    pub id: Uuid,
    pub source: &'a str,
    pub file_name: &'a str,
    pub created_by: &'a str,
    pub bytes_total: i64,
}

pub async fn insert_import(conn: &mut Connection, new: &NewImport<'_>) -> AppResult<()> {
    diesel::sql_query(
        "INSERT INTO cost_imports (id, source, file_name, created_by, status, bytes_total)
         VALUES ($1, $2, $3, $4, 'running', $5)",
    )
    .bind::<SqlUuid, _>(new.id)
    .bind::<Text, _>(new.source)
    .bind::<Text, _>(new.file_name)
    .bind::<Text, _>(new.created_by)
    .bind::<BigInt, _>(new.bytes_total)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records how far the import has read; the page's progress bar follows it.
pub async fn advance(conn: &mut Connection, id: Uuid, bytes_read: i64, rows_read: i64, layout: &str) -> AppResult<()> {
    diesel::sql_query(
        "UPDATE cost_imports SET bytes_read = $2, rows_read = $3, format = $4, updated_at = now() WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<BigInt, _>(bytes_read)
    .bind::<BigInt, _>(rows_read)
    .bind::<Text, _>(layout)
    .execute(conn)
    .await?;
    Ok(())
}

/// Settings of a transaction that moves or sums a year of cost rows (an import's commit or
/// refusal, a recompute, OpenCost weights): its statements may run 15 minutes instead of a
/// request's budget. (A `work_mem` of 256 MB here was measured and not kept: at ten million
/// rows the commit's sums took 44 s with it and 35 s without, for 3 s less allocation.)
pub async fn sized_for_a_year(conn: &mut Connection) -> AppResult<()> {
    conn.batch_execute("SET LOCAL statement_timeout = '15min'").await?;
    Ok(())
}

/// The staged columns, in the order `stage_rows` gives their values.
const STAGED_COLUMNS: &str = "import_id, line, provider, billing_account_id, billing_account_name, sub_account_id,
    sub_account_name, billing_currency, billing_period_start, billing_period_end, charge_period_start,
    charge_period_end, charge_category, charge_class, charge_description, service_name, service_category, region_id,
    resource_id, resource_name, resource_type, sku_id, billed_cost, effective_cost, list_cost, contracted_cost,
    pricing_quantity, pricing_unit, commitment_discount_id, tags, extra";

/// Starts a COPY of staged rows (see `stage_rows`); its `finish` commits what was written.
pub async fn start_staging(load: &BulkLoad) -> AppResult<CopyIn> {
    use tokio_postgres::types::Type;
    const TEXT: Type = Type::TEXT;
    const TIME: Type = Type::TIMESTAMPTZ;
    const MONEY: Type = Type::NUMERIC;
    const TYPES: [Type; 31] = [
        Type::UUID,
        Type::INT8,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TIME,
        TIME,
        TIME,
        TIME,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        MONEY,
        MONEY,
        MONEY,
        MONEY,
        MONEY,
        TEXT,
        TEXT,
        Type::JSONB,
        Type::JSONB,
    ];
    load.copy_in(&format!("COPY cost_rows ({STAGED_COLUMNS}) FROM STDIN (FORMAT binary)"), &TYPES).await
}

/// Writes a batch of rows, under the import, into a COPY `start_staging` began.
pub async fn stage_rows(copy: &mut CopyIn, import: Uuid, rows: &[CostRecord]) -> AppResult<()> {
    use tokio_postgres::types::Json;
    struct Staged<'r> {
        line: i64,
        row: &'r CostRecord,
        billed: Numeric<'r>,
        effective: Numeric<'r>,
        list: Option<Numeric<'r>>,
        contracted: Option<Numeric<'r>>,
        quantity: Option<Numeric<'r>>,
        tags: Json<&'r serde_json::Map<String, serde_json::Value>>,
        extra: Json<&'r serde_json::Map<String, serde_json::Value>>,
    }
    let staged: Vec<Staged> = rows
        .iter()
        .map(|row| Staged {
            line: i64::try_from(row.line).unwrap_or(i64::MAX),
            row,
            billed: Numeric(&row.billed_cost),
            effective: Numeric(&row.effective_cost),
            list: row.list_cost.as_deref().map(Numeric),
            contracted: row.contracted_cost.as_deref().map(Numeric),
            quantity: row.pricing_quantity.as_deref().map(Numeric),
            tags: Json(&row.tags),
            extra: Json(&row.extra),
        })
        .collect();
    copy.write(&staged, |s| {
        let r = s.row;
        vec![
            &import,
            &s.line,
            &r.provider,
            &r.billing_account_id,
            &r.billing_account_name,
            &r.sub_account_id,
            &r.sub_account_name,
            &r.billing_currency,
            &r.billing_period_start,
            &r.billing_period_end,
            &r.charge_period_start,
            &r.charge_period_end,
            &r.charge_category,
            &r.charge_class,
            &r.charge_description,
            &r.service_name,
            &r.service_category,
            &r.region_id,
            &r.resource_id,
            &r.resource_name,
            &r.resource_type,
            &r.sku_id,
            &s.billed,
            &s.effective,
            &s.list,
            &s.contracted,
            &s.quantity,
            &r.pricing_unit,
            &r.commitment_discount_id,
            &s.tags,
            &s.extra,
        ]
    })
    .await?;
    Ok(())
}

/// Drops what a failed import staged.
pub async fn discard_rows(conn: &mut Connection, import: Uuid) -> AppResult<()> {
    diesel::sql_query("DELETE FROM cost_rows WHERE import_id = $1").bind::<SqlUuid, _>(import).execute(conn).await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Makes the import's rows count; returns how many (account, period) pairs it took over from
/// earlier imports. Runs in one transaction with the import's end, under a lock per source so
/// two imports of one source commit one after the other.
pub async fn commit(conn: &mut Connection, import: Uuid, source: &str) -> AppResult<i64> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.cost_source.' || $1, 0))")
        .bind::<Text, _>(source)
        .execute(conn)
        .await?;
    let replaced = diesel::sql_query(
        "WITH mine AS (SELECT DISTINCT billing_account_id, billing_period_start FROM cost_rows WHERE import_id = $1),
              replaced AS (
                SELECT s.import_id, s.billing_account_id, s.billing_period_start
                  FROM cost_slices s JOIN mine USING (billing_account_id, billing_period_start)
                 WHERE s.source = $2 AND s.import_id <> $1),
              gone_rows AS (
                DELETE FROM cost_rows r USING replaced p
                 WHERE r.import_id = p.import_id AND r.billing_account_id = p.billing_account_id
                   AND r.billing_period_start = p.billing_period_start),
              gone_days AS (
                DELETE FROM cost_daily d USING replaced p
                 WHERE d.import_id = p.import_id AND d.billing_account_id = p.billing_account_id
                   AND d.billing_period_start = p.billing_period_start),
              gone_allocated AS (
                DELETE FROM cost_allocated a USING replaced p
                 WHERE a.import_id = p.import_id AND a.billing_account_id = p.billing_account_id
                   AND a.billing_period_start = p.billing_period_start),
              gone_pooled AS (
                DELETE FROM cost_pooled o USING replaced p
                 WHERE o.import_id = p.import_id AND o.billing_account_id = p.billing_account_id
                   AND o.billing_period_start = p.billing_period_start),
              gone_months AS (
                DELETE FROM cost_monthly m USING replaced p
                 WHERE m.import_id = p.import_id AND m.billing_account_id = p.billing_account_id
                   AND m.billing_period_start = p.billing_period_start),
              taken AS (
                INSERT INTO cost_slices (source, billing_account_id, billing_period_start, import_id)
                SELECT $2, billing_account_id, billing_period_start, $1 FROM mine
                ON CONFLICT (source, billing_account_id, billing_period_start) DO UPDATE SET import_id = EXCLUDED.import_id)
         SELECT count(*) AS n FROM replaced",
    )
    .bind::<SqlUuid, _>(import)
    .bind::<Text, _>(source)
    .get_result::<Count>(conn)
    .await?
    .n;
    diesel::sql_query(
        "INSERT INTO cost_daily (import_id, billing_account_id, billing_period_start, day, currency, provider,
             sub_account_id, service_name, service_category, region_id, charge_category, corrections,
             billed_cost, effective_cost, list_cost, rows)
         SELECT import_id, billing_account_id, billing_period_start, (charge_period_start AT TIME ZONE 'UTC')::date,
             billing_currency, provider, coalesce(sub_account_id, ''), service_name, service_category,
             coalesce(region_id, ''), charge_category, coalesce(charge_class = 'Correction', false),
             sum(billed_cost), sum(effective_cost), coalesce(sum(list_cost), 0), count(*)
           FROM cost_rows WHERE import_id = $1
          GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12",
    )
    .bind::<SqlUuid, _>(import)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO cost_monthly (import_id, billing_account_id, billing_period_start, month, billing_month, currency,
             provider, sub_account_id, service_name, service_category, region_id, charge_category, billed_cost,
             effective_cost, rows)
         SELECT import_id, billing_account_id, billing_period_start, date_trunc('month', day)::date,
             date_trunc('month', billing_period_start AT TIME ZONE 'UTC')::date, currency, provider, sub_account_id,
             service_name, service_category, region_id, charge_category, sum(billed_cost), sum(effective_cost),
             sum(rows)
           FROM cost_daily WHERE import_id = $1
          GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12",
    )
    .bind::<SqlUuid, _>(import)
    .execute(conn)
    .await?;
    Ok(replaced)
}

#[derive(QueryableByName)]
struct TotalRow {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Date)]
    period: NaiveDate,
    #[diesel(sql_type = Text)]
    billed: String,
    #[diesel(sql_type = Text)]
    effective: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

/// The import's sums per currency and billing period, exact: read from its daily sums, which
/// the commit has just written, rather than from all its rows again.
pub async fn totals(conn: &mut Connection, import: Uuid) -> AppResult<Vec<PeriodTotal>> {
    let rows: Vec<TotalRow> = diesel::sql_query(
        "SELECT currency, (billing_period_start AT TIME ZONE 'UTC')::date AS period,
                sum(billed_cost)::text AS billed, sum(effective_cost)::text AS effective, sum(rows)::bigint AS rows
           FROM cost_daily WHERE import_id = $1 GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<SqlUuid, _>(import)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PeriodTotal {
            currency: r.currency,
            billing_period_start: r.period,
            billed_cost: r.billed,
            effective_cost: r.effective,
            rows: r.rows,
        })
        .collect())
}

/// The first day the import has costs on: where the days it changed begin.
pub async fn first_day(conn: &mut Connection, import: Uuid) -> AppResult<Option<NaiveDate>> {
    #[derive(QueryableByName)]
    struct First {
        #[diesel(sql_type = Nullable<Date>)]
        day: Option<NaiveDate>,
    }
    let First { day } = diesel::sql_query("SELECT min(day) AS day FROM cost_daily WHERE import_id = $1")
        .bind::<SqlUuid, _>(import)
        .get_result(conn)
        .await?;
    Ok(day)
}

pub async fn finish(
    conn: &mut Connection,
    import: Uuid,
    status: ImportStatus,
    report: Option<&serde_json::Value>,
    error: Option<&str>,
) -> AppResult<()> {
    diesel::sql_query(
        "UPDATE cost_imports SET status = $2, report = $3, error = $4, updated_at = now(),
                bytes_read = CASE WHEN $2 = 'done' THEN bytes_total ELSE bytes_read END
          WHERE id = $1",
    )
    .bind::<SqlUuid, _>(import)
    .bind::<Text, _>(status.as_str())
    .bind::<Nullable<Jsonb>, _>(report)
    .bind::<Nullable<Text>, _>(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Imports a stopped server left running: marked failed, their staged rows dropped. One that
/// has not advanced for this long is not being worked on.
pub async fn fail_abandoned(conn: &mut Connection) -> AppResult<()> {
    diesel::sql_query(
        "WITH abandoned AS (
            UPDATE cost_imports SET status = 'failed', updated_at = now(),
                   error = 'The server stopped during the import; nothing of it was kept. Import the file again.'
             WHERE status = 'running' AND updated_at < now() - interval '5 minutes' RETURNING id)
         DELETE FROM cost_rows WHERE import_id IN (SELECT id FROM abandoned)",
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
pub struct ImportRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub source: String,
    #[diesel(sql_type = Text)]
    pub file_name: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub created_by: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub bytes_total: i64,
    #[diesel(sql_type = BigInt)]
    pub bytes_read: i64,
    #[diesel(sql_type = BigInt)]
    pub rows_read: i64,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub report: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
}

const IMPORT_COLUMNS: &str =
    "id, source, file_name, status, created_by, created_at, bytes_total, bytes_read, rows_read, report, error";

pub async fn load_import(conn: &mut Connection, id: Uuid) -> AppResult<Option<ImportRow>> {
    Ok(diesel::sql_query(format!("SELECT {IMPORT_COLUMNS} FROM cost_imports WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()?)
}

/// The newest imports, newest first.
pub async fn recent_imports(conn: &mut Connection, limit: i64) -> AppResult<Vec<ImportRow>> {
    Ok(diesel::sql_query(format!("SELECT {IMPORT_COLUMNS} FROM cost_imports ORDER BY created_at DESC LIMIT $1"))
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?)
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The column of `cost_monthly` a view's month is, and the cost column it sums.
fn view_columns(invoice: bool) -> (&'static str, &'static str) {
    match invoice {
        true => ("billing_month", "billed_cost"),
        false => ("month", "effective_cost"),
    }
}

/// Every currency imported, the largest first.
pub async fn currencies(conn: &mut Connection) -> AppResult<Vec<String>> {
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT currency AS name FROM cost_monthly GROUP BY currency ORDER BY sum(abs(effective_cost)) DESC, 1",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

#[derive(QueryableByName)]
struct Month {
    #[diesel(sql_type = Date)]
    month: NaiveDate,
}

/// The currencies a view adds up, each with what its amounts are multiplied by: one currency
/// at 1, or each currency that has a rate into the reporting one. Its SQL joins
/// `unnest(currencies, rates) AS fx(currency, rate)`, so both views are one query.
pub struct Scope {
    pub(super) currencies: Vec<String>,
    pub(super) rates: Vec<String>,
}

impl Scope {
    pub fn single(currency: &str) -> Self {
        Self { currencies: vec![currency.to_owned()], rates: vec!["1".to_owned()] }
    }

    /// The reporting currency at 1 and every (currency, rate).
    pub fn converted(reporting: &str, rates: &[(String, String)]) -> Self {
        let mut scope = Self::single(reporting);
        for (currency, rate) in rates {
            scope.currencies.push(currency.clone());
            scope.rates.push(rate.clone());
        }
        scope
    }
}

/// The months holding costs in the scope's currencies, newest first: billing periods for the
/// invoice view, the months charges were incurred in for the amortized one.
pub async fn months(conn: &mut Connection, scope: &Scope, invoice: bool) -> AppResult<Vec<NaiveDate>> {
    let (month, _) = view_columns(invoice);
    let rows: Vec<Month> = diesel::sql_query(format!(
        "SELECT DISTINCT {month} AS month FROM cost_monthly WHERE currency = ANY($1) ORDER BY 1 DESC"
    ))
    .bind::<Array<Text>, _>(&scope.currencies)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.month).collect())
}

#[derive(QueryableByName)]
pub struct Amount {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub amount: String,
}

/// One breakdown's line: the dimension (a `cost_monthly` column, or `total`), its value, the
/// month's sum and the month before's, rounded to cents.
#[derive(QueryableByName)]
pub struct Breakdown {
    #[diesel(sql_type = Text)]
    pub dimension: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub amount: String,
    #[diesel(sql_type = Text)]
    pub previous: String,
}

/// Every breakdown of `month` and the month before in one scan of their monthly sums, largest
/// first within each dimension.
pub async fn breakdowns(
    conn: &mut Connection,
    scope: &Scope,
    month: NaiveDate,
    invoice: bool,
) -> AppResult<Vec<Breakdown>> {
    let (month_column, cost) = view_columns(invoice);
    Ok(diesel::sql_query(format!(
        "SELECT CASE WHEN grouping(service_name) = 0 THEN 'service_name'
                     WHEN grouping(service_category) = 0 THEN 'service_category'
                     WHEN grouping(provider) = 0 THEN 'provider'
                     WHEN grouping(billing_account_id) = 0 THEN 'billing_account_id'
                     WHEN grouping(sub_account_id) = 0 THEN 'sub_account_id'
                     WHEN grouping(region_id) = 0 THEN 'region_id'
                     ELSE 'total' END AS dimension,
                coalesce(service_name, service_category, provider, billing_account_id, sub_account_id, region_id, '') AS name,
                round(coalesce(sum({cost} * rate) FILTER (WHERE {month_column} = $2), 0), 2)::text AS amount,
                round(coalesce(sum({cost} * rate) FILTER (WHERE {month_column} = $3), 0), 2)::text AS previous
           FROM cost_monthly JOIN unnest($1::text[], $4::numeric[]) AS fx(currency, rate) USING (currency)
          WHERE {month_column} IN ($2, $3)
          GROUP BY GROUPING SETS ((service_name), (service_category), (provider), (billing_account_id),
                                  (sub_account_id), (region_id), ())
          ORDER BY 1, sum({cost} * rate) FILTER (WHERE {month_column} = $2) DESC NULLS LAST, 2"
    ))
    .bind::<Array<Text>, _>(&scope.currencies)
    .bind::<Date, _>(month)
    .bind::<Date, _>(month - chrono::Months::new(1))
    .bind::<Array<Text>, _>(&scope.rates)
    .load(conn)
    .await?)
}

/// One sum per day of `month` (amortized: by the day incurred), its day as the name.
pub async fn daily(conn: &mut Connection, scope: &Scope, month: NaiveDate) -> AppResult<Vec<Amount>> {
    Ok(diesel::sql_query(
        "SELECT day::text AS name, round(sum(effective_cost * rate), 2)::text AS amount
           FROM cost_daily JOIN unnest($1::text[], $3::numeric[]) AS fx(currency, rate) USING (currency)
          WHERE day >= $2 AND day < ($2 + interval '1 month')::date
          GROUP BY day ORDER BY day",
    )
    .bind::<Array<Text>, _>(&scope.currencies)
    .bind::<Date, _>(month)
    .bind::<Array<Text>, _>(&scope.rates)
    .load(conn)
    .await?)
}

/// One sum per month for the twelve months up to `month`, oldest first.
pub async fn monthly(conn: &mut Connection, scope: &Scope, month: NaiveDate, invoice: bool) -> AppResult<Vec<Amount>> {
    let (month_column, cost) = view_columns(invoice);
    Ok(diesel::sql_query(format!(
        "SELECT {month_column}::text AS name, round(sum({cost} * rate), 2)::text AS amount
           FROM cost_monthly JOIN unnest($1::text[], $3::numeric[]) AS fx(currency, rate) USING (currency)
          WHERE {month_column} > ($2 - interval '12 months')::date AND {month_column} <= $2
          GROUP BY 1 ORDER BY 1"
    ))
    .bind::<Array<Text>, _>(&scope.currencies)
    .bind::<Date, _>(month)
    .bind::<Array<Text>, _>(&scope.rates)
    .load(conn)
    .await?)
}

#[derive(QueryableByName)]
struct EngineerRateRow {
    #[diesel(sql_type = Text)]
    monthly_cost: String,
    #[diesel(sql_type = Text)]
    currency: String,
}

/// What an engineer costs a month, if set.
pub async fn engineer_rate(conn: &mut Connection) -> AppResult<Option<EngineerRate>> {
    let row: Option<EngineerRateRow> =
        diesel::sql_query("SELECT monthly_cost::text AS monthly_cost, currency FROM cost_engineer_rate")
            .get_result(conn)
            .await
            .optional()?;
    Ok(row.map(|r| EngineerRate { monthly_cost: r.monthly_cost, currency: r.currency }))
}

/// Replaces (or, with `None`, clears) what an engineer costs a month.
pub async fn set_engineer_rate(conn: &mut Connection, rate: Option<&EngineerRate>) -> AppResult<()> {
    diesel::sql_query("DELETE FROM cost_engineer_rate").execute(conn).await?;
    if let Some(rate) = rate {
        diesel::sql_query("INSERT INTO cost_engineer_rate (monthly_cost, currency) VALUES ($1::numeric, $2)")
            .bind::<Text, _>(&rate.monthly_cost)
            .bind::<Text, _>(&rate.currency)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct RateRow {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    reporting: String,
    #[diesel(sql_type = Text)]
    rate: String,
}

/// The reporting currency and rates, if set.
pub async fn currency_rates(conn: &mut Connection) -> AppResult<Option<CurrencyRates>> {
    let rows: Vec<RateRow> =
        diesel::sql_query("SELECT currency, reporting, rate::text AS rate FROM cost_currency_rates ORDER BY currency")
            .load(conn)
            .await?;
    Ok(<[RateRow]>::first(&rows).map(|first| CurrencyRates {
        reporting: first.reporting.clone(),
        rates: rows.iter().map(|r| (r.currency.clone(), r.rate.clone())).collect(),
    }))
}

/// Replaces the rates (`None` or no rates: there is no converted view).
pub async fn set_currency_rates(conn: &mut Connection, rates: Option<&CurrencyRates>) -> AppResult<()> {
    diesel::sql_query("DELETE FROM cost_currency_rates").execute(conn).await?;
    if let Some(rates) = rates {
        let (currencies, values): (Vec<&str>, Vec<&str>) =
            rates.rates.iter().map(|(c, r)| (c.as_str(), r.as_str())).unzip();
        diesel::sql_query(
            "INSERT INTO cost_currency_rates (currency, reporting, rate)
             SELECT currency, $2, rate::numeric FROM unnest($1::text[], $3::text[]) AS r(currency, rate)",
        )
        .bind::<Array<Text>, _>(currencies)
        .bind::<Text, _>(&rates.reporting)
        .bind::<Array<Text>, _>(values)
        .execute(conn)
        .await?;
    }
    Ok(())
}
