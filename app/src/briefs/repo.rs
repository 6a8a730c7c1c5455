//! The queries of the briefs area: companies and their sealed fields, the data version, and
//! briefs (a brief row is also its job) with their competitors.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel::sql_types::{
    Array, BigInt, Bool, Bytea, Double, Int2, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

use super::model::{BriefStatus, BriefSummary, Company, Competitor};
use crate::db::Connection;

/// Rows per statement of a bulk write.
const BATCH: usize = 2_000;

#[derive(QueryableByName)]
struct CompanyRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    domain: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    website: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    one_liner: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    industry: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    subindustry: Option<String>,
    #[diesel(sql_type = Array<Text>)]
    tags: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    regions: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    stage: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    batch: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    team_size: Option<i32>,
    #[diesel(sql_type = Nullable<Bool>)]
    is_hiring: Option<bool>,
}

impl From<CompanyRow> for Company {
    fn from(r: CompanyRow) -> Self {
        Company {
            id: r.id,
            name: r.name,
            domain: r.domain,
            website: r.website,
            one_liner: r.one_liner,
            description: r.description,
            industry: r.industry,
            subindustry: r.subindustry,
            tags: r.tags,
            regions: r.regions,
            stage: r.stage,
            status: r.status,
            batch: r.batch,
            team_size: r.team_size,
            is_hiring: r.is_hiring,
        }
    }
}

const COMPANY_COLUMNS: &str =
    "id, name, domain, website, one_liner, description, industry, subindustry, tags, regions, \
                               stage, status, batch, team_size, is_hiring";

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = BigInt)]
    version: i64,
}

pub async fn data_version(conn: &mut Connection) -> QueryResult<i64> {
    let row: Version = diesel::sql_query("SELECT version FROM company_data_version").get_result(conn).await?;
    Ok(row.version)
}

/// Marks the company data changed: cached discoveries of older versions are never read again.
pub async fn bump_version(conn: &mut Connection) -> QueryResult<i64> {
    let row: Version = diesel::sql_query("UPDATE company_data_version SET version = version + 1 RETURNING version")
        .get_result(conn)
        .await?;
    Ok(row.version)
}

/// Every company's one-liner and description: what embeddings are computed from.
pub async fn company_texts(conn: &mut Connection) -> QueryResult<Vec<(Option<String>, Option<String>)>> {
    #[derive(QueryableByName)]
    struct Texts {
        #[diesel(sql_type = Nullable<Text>)]
        one_liner: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        description: Option<String>,
    }
    let rows: Vec<Texts> = diesel::sql_query("SELECT one_liner, description FROM companies").load(conn).await?;
    Ok(rows.into_iter().map(|r| (r.one_liner, r.description)).collect())
}

/// Every company, for the discovery index.
pub async fn all_companies(conn: &mut Connection) -> QueryResult<Vec<Company>> {
    let rows: Vec<CompanyRow> =
        diesel::sql_query(format!("SELECT {COMPANY_COLUMNS} FROM companies ORDER BY name_key")).load(conn).await?;
    Ok(rows.into_iter().map(Company::from).collect())
}

pub async fn company(conn: &mut Connection, id: Uuid) -> QueryResult<Option<Company>> {
    let rows: Vec<CompanyRow> = diesel::sql_query(format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next().map(Company::from))
}

/// The companies whose folded name is `key`, or failing that whose name starts with `prefix`.
pub async fn companies_named(conn: &mut Connection, key: &str, prefix: &str, limit: i64) -> QueryResult<Vec<Company>> {
    let rows: Vec<CompanyRow> = diesel::sql_query(format!(
        "(SELECT {COMPANY_COLUMNS}, 0 AS o FROM companies WHERE name_key = $1) \
         UNION ALL (SELECT {COMPANY_COLUMNS}, 1 FROM companies WHERE lower(name) LIKE $2 AND name_key <> $1 ORDER BY name LIMIT $3) \
         ORDER BY o, name LIMIT $3"
    ))
    .bind::<Text, _>(key)
    .bind::<Text, _>(format!("{}%", crate::escape::like(&prefix.to_lowercase())))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(Company::from).collect())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// A page of companies whose name, one-liner or subindustry contains `search`, by name.
pub async fn list_companies(
    conn: &mut Connection,
    search: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<(i64, Vec<Company>)> {
    let pattern = format!("%{}%", crate::escape::like(&search.to_lowercase()));
    let filter = "($1 = '%%' OR lower(name) LIKE $1 OR lower(coalesce(one_liner, '')) LIKE $1 \
                  OR lower(coalesce(subindustry, '')) LIKE $1)";
    let total: Count = diesel::sql_query(format!("SELECT count(*) AS count FROM companies WHERE {filter}"))
        .bind::<Text, _>(&pattern)
        .get_result(conn)
        .await?;
    let rows: Vec<CompanyRow> = diesel::sql_query(format!(
        "SELECT {COMPANY_COLUMNS} FROM companies WHERE {filter} ORDER BY name_key LIMIT $2 OFFSET $3"
    ))
    .bind::<Text, _>(&pattern)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await?;
    Ok((total.count, rows.into_iter().map(Company::from).collect()))
}

#[derive(QueryableByName)]
pub struct CompanyKey {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub name_key: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub domain: Option<String>,
}

/// What deduplication matches on, for every company.
pub async fn company_keys(conn: &mut Connection) -> QueryResult<Vec<CompanyKey>> {
    diesel::sql_query("SELECT id, name_key, domain FROM companies ORDER BY name_key, id").load(conn).await
}

/// Writes `companies` (ids chosen by the caller): new ones inserted, known ones replaced. With
/// `keep_website` (imports), a record without a website keeps the one stored; an edit replaces it.
pub async fn upsert_companies(
    conn: &mut Connection,
    companies: &[Company],
    updated_by: &str,
    keep_website: bool,
) -> QueryResult<()> {
    for chunk in companies.chunks(BATCH) {
        let column = |f: fn(&Company) -> Option<String>| chunk.iter().map(f).collect::<Vec<_>>();
        let json = |f: fn(&Company) -> &Vec<String>| {
            chunk.iter().map(|c| serde_json::to_string(f(c)).unwrap_or_else(|_| "[]".into())).collect::<Vec<_>>()
        };
        diesel::sql_query(
            "INSERT INTO companies (id, name, name_key, domain, website, one_liner, description, industry, subindustry, \
                                    tags, regions, stage, status, batch, team_size, is_hiring, updated_by) \
             SELECT id, name, name_key, domain, website, one_liner, description, industry, subindustry, \
                    ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)), ARRAY(SELECT jsonb_array_elements_text(regions::jsonb)), \
                    stage, status, batch, team_size, is_hiring, $17 \
               FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                    AS u(id, name, name_key, domain, website, one_liner, description, industry, subindustry, tags, regions, \
                         stage, status, batch, team_size, is_hiring) \
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, name_key = EXCLUDED.name_key, \
                 domain = CASE WHEN $18 THEN coalesce(EXCLUDED.domain, companies.domain) ELSE EXCLUDED.domain END, \
                 website = CASE WHEN $18 THEN coalesce(EXCLUDED.website, companies.website) ELSE EXCLUDED.website END, one_liner = EXCLUDED.one_liner, description = EXCLUDED.description, \
                 industry = EXCLUDED.industry, subindustry = EXCLUDED.subindustry, tags = EXCLUDED.tags, \
                 regions = EXCLUDED.regions, stage = EXCLUDED.stage, status = EXCLUDED.status, batch = EXCLUDED.batch, \
                 team_size = EXCLUDED.team_size, is_hiring = EXCLUDED.is_hiring, updated_by = EXCLUDED.updated_by, \
                 updated_at = now()",
        )
        .bind::<Array<SqlUuid>, _>(chunk.iter().map(|c| c.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|c| c.name.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|c| super::text::name_key(&c.name)).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.domain.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.website.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.one_liner.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.description.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.industry.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.subindustry.clone()))
        .bind::<Array<Text>, _>(json(|c| &c.tags))
        .bind::<Array<Text>, _>(json(|c| &c.regions))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.stage.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.status.clone()))
        .bind::<Array<Nullable<Text>>, _>(column(|c| c.batch.clone()))
        .bind::<Array<Nullable<Integer>>, _>(chunk.iter().map(|c| c.team_size).collect::<Vec<_>>())
        .bind::<Array<Nullable<Bool>>, _>(chunk.iter().map(|c| c.is_hiring).collect::<Vec<_>>())
        .bind::<Text, _>(updated_by)
        .bind::<Bool, _>(keep_website)
        .execute(conn)
        .await?;
    }
    Ok(())
}

pub async fn delete_company(conn: &mut Connection, id: Uuid) -> QueryResult<bool> {
    let deleted = diesel::sql_query("DELETE FROM companies WHERE id = $1").bind::<SqlUuid, _>(id).execute(conn).await?;
    Ok(deleted > 0)
}

/// A sealed field as stored.
#[derive(QueryableByName)]
pub struct SecretRow {
    #[diesel(sql_type = SqlUuid)]
    pub company_id: Uuid,
    #[diesel(sql_type = Text)]
    pub field: String,
    #[diesel(sql_type = Text)]
    pub key_id: String,
    #[diesel(sql_type = Bytea)]
    pub sealed: Vec<u8>,
}

pub async fn secrets_of(conn: &mut Connection, ids: &[Uuid]) -> QueryResult<Vec<SecretRow>> {
    diesel::sql_query("SELECT company_id, field, key_id, sealed FROM company_secrets WHERE company_id = ANY ($1)")
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)
        .await
}

/// Up to `limit` sealed fields under another key than `current`, for rotation.
pub async fn secrets_not_under(conn: &mut Connection, current: &str, limit: i64) -> QueryResult<Vec<SecretRow>> {
    diesel::sql_query(
        "SELECT company_id, field, key_id, sealed FROM company_secrets WHERE key_id <> $1 \
         ORDER BY company_id, field LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind::<Text, _>(current)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

pub async fn count_secrets_not_under(conn: &mut Connection, current: &str) -> QueryResult<i64> {
    let row: Count = diesel::sql_query("SELECT count(*) AS count FROM company_secrets WHERE key_id <> $1")
        .bind::<Text, _>(current)
        .get_result(conn)
        .await?;
    Ok(row.count)
}

/// Stores sealed fields, replacing what the same company and field held.
pub async fn put_secrets(conn: &mut Connection, rows: &[SecretRow]) -> QueryResult<()> {
    for chunk in rows.chunks(BATCH) {
        diesel::sql_query(
            "INSERT INTO company_secrets (company_id, field, key_id, sealed) SELECT * FROM unnest($1, $2, $3, $4) \
             ON CONFLICT (company_id, field) DO UPDATE SET key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed",
        )
        .bind::<Array<SqlUuid>, _>(chunk.iter().map(|r| r.company_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|r| r.field.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|r| r.key_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Bytea>, _>(chunk.iter().map(|r| r.sealed.as_slice()).collect::<Vec<_>>())
        .execute(conn)
        .await?;
    }
    Ok(())
}

pub async fn remove_secret(conn: &mut Connection, company: Uuid, field: &str) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM company_secrets WHERE company_id = $1 AND field = $2")
        .bind::<SqlUuid, _>(company)
        .bind::<Text, _>(field)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Creates the month's partition of the briefs if it is missing. A transaction-scoped lock
/// keeps two servers from creating it at once.
pub async fn ensure_month(conn: &mut Connection, at: DateTime<Utc>) -> QueryResult<()> {
    let first = NaiveDate::from_ymd_opt(at.year(), at.month(), 1).expect("the first of a month exists");
    let next = first.checked_add_months(chrono::Months::new(1)).expect("a month later exists");
    conn.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.competitive_briefs')); \
         CREATE TABLE IF NOT EXISTS competitive_briefs_{} PARTITION OF competitive_briefs \
             FOR VALUES FROM ('{first} 00:00:00+00') TO ('{next} 00:00:00+00')",
        first.format("%Y%m")
    ))
    .await
}

#[derive(QueryableByName)]
pub struct BriefKey {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub requested_at: DateTime<Utc>,
}

/// Queues a brief of `company`; the generator servers hear of it when this commits.
pub async fn enqueue(
    conn: &mut Connection,
    company: &Company,
    requested_by: Option<Uuid>,
    requester: &str,
    at: DateTime<Utc>,
) -> QueryResult<BriefKey> {
    ensure_month(conn, at).await?;
    let key: BriefKey = diesel::sql_query(
        "INSERT INTO competitive_briefs (requested_at, company_id, target_name, requested_by, requester, status) \
         VALUES ($1, $2, $3, $4, $5, 'queued') RETURNING id, requested_at",
    )
    .bind::<Timestamptz, _>(at)
    .bind::<SqlUuid, _>(company.id)
    .bind::<Text, _>(&company.name)
    .bind::<Nullable<SqlUuid>, _>(requested_by)
    .bind::<Text, _>(requester)
    .get_result(conn)
    .await?;
    diesel::sql_query("SELECT pg_notify($1, current_schema())")
        .bind::<Text, _>(crate::events::listener::BRIEFS_CHANNEL)
        .execute(conn)
        .await?;
    Ok(key)
}

/// A brief a generator claimed: its key, target and which attempt this is.
#[derive(QueryableByName, Clone)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub requested_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub company_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub requested_by: Option<Uuid>,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Claims the oldest brief that is queued and due (a queued brief's `lease_until` is when a
/// failed attempt may be retried), or running under a lease that ran out (its server stopped)
/// with attempts left, until `lease_until`. A brief whose servers stopped on every attempt is
/// failed here: it would only stop the next one too.
pub async fn claim(
    conn: &mut Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    attempts: i32,
) -> QueryResult<Option<Claimed>> {
    diesel::sql_query(
        "UPDATE competitive_briefs SET status = 'failed', lease_until = NULL, progress = 0, \
                error = 'The generation stopped with its server on every attempt.' \
          WHERE status = 'running' AND lease_until < $1 AND attempts >= $2",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Integer, _>(attempts)
    .execute(conn)
    .await?;
    let rows: Vec<Claimed> = diesel::sql_query(
        "UPDATE competitive_briefs b SET status = 'running', attempts = b.attempts + 1, lease_until = $2, progress = 5 \
          WHERE (b.id, b.requested_at) IN ( \
                SELECT id, requested_at FROM competitive_briefs \
                 WHERE (status = 'queued' AND (lease_until IS NULL OR lease_until <= $1)) \
                    OR (status = 'running' AND lease_until < $1 AND attempts < $3) \
                 ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
          RETURNING b.id, b.requested_at, b.company_id, b.requested_by, b.attempts",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(lease_until)
    .bind::<Integer, _>(attempts)
    .load(conn)
    .await?;
    Ok(rows.into_iter().next())
}

/// Records progress of the attempt that holds the brief and renews its lease to `lease_until`.
pub async fn progress(
    conn: &mut Connection,
    brief: &Claimed,
    percent: i16,
    lease_until: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE competitive_briefs SET progress = $4, lease_until = $5 \
          WHERE id = $1 AND requested_at = $2 AND attempts = $3 AND status = 'running'",
    )
    .bind::<SqlUuid, _>(brief.id)
    .bind::<Timestamptz, _>(brief.requested_at)
    .bind::<Integer, _>(brief.attempts)
    .bind::<Int2, _>(percent)
    .bind::<Timestamptz, _>(lease_until)
    .execute(conn)
    .await
    .map(|_| ())
}

/// What a finished generation writes.
pub struct Finished<'a> {
    pub data_version: i64,
    pub threat_score: f64,
    pub content: serde_json::Value,
    pub pdf: &'a [u8],
    pub generated_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub competitors: &'a [Competitor],
}

/// Writes the result if this attempt still holds the brief; false when another attempt took
/// it over (then nothing is written: a brief is generated once).
pub async fn finish(conn: &mut Connection, brief: &Claimed, done: Finished<'_>) -> QueryResult<bool> {
    let updated = diesel::sql_query(
        "UPDATE competitive_briefs SET status = 'ready', progress = 100, lease_until = NULL, error = NULL, \
                data_version = $4, threat_score = $5, content = $6, pdf = $7, generated_at = $8, duration_ms = $9 \
          WHERE id = $1 AND requested_at = $2 AND attempts = $3 AND status = 'running'",
    )
    .bind::<SqlUuid, _>(brief.id)
    .bind::<Timestamptz, _>(brief.requested_at)
    .bind::<Integer, _>(brief.attempts)
    .bind::<BigInt, _>(done.data_version)
    .bind::<Double, _>(done.threat_score)
    .bind::<Jsonb, _>(done.content)
    .bind::<Bytea, _>(done.pdf)
    .bind::<Timestamptz, _>(done.generated_at)
    .bind::<Integer, _>(done.duration_ms)
    .execute(conn)
    .await?;
    if updated == 0 {
        return Ok(false);
    }
    let list = done.competitors;
    diesel::sql_query(
        "INSERT INTO competitors (brief_id, requested_at, rank, company_id, name, company, score, momentum, contributions, why) \
         SELECT $1, $2, * FROM unnest($3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind::<SqlUuid, _>(brief.id)
    .bind::<Timestamptz, _>(brief.requested_at)
    .bind::<Array<Int2>, _>(list.iter().map(|c| c.rank as i16).collect::<Vec<_>>())
    .bind::<Array<SqlUuid>, _>(list.iter().map(|c| c.company.id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(list.iter().map(|c| c.company.name.as_str()).collect::<Vec<_>>())
    .bind::<Array<Jsonb>, _>(list.iter().map(|c| serde_json::to_value(&c.company).unwrap_or_default()).collect::<Vec<_>>())
    .bind::<Array<Double>, _>(list.iter().map(|c| c.score).collect::<Vec<_>>())
    .bind::<Array<Double>, _>(list.iter().map(|c| c.momentum).collect::<Vec<_>>())
    .bind::<Array<Jsonb>, _>(
        list.iter().map(|c| serde_json::to_value(&c.contributions).unwrap_or_default()).collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(list.iter().map(|c| c.why.as_str()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(true)
}

/// Marks the attempt failed: queued again, not to be claimed before `retry_at`, while attempts
/// remain; else failed for good.
pub async fn fail(
    conn: &mut Connection,
    brief: &Claimed,
    error: &str,
    final_attempt: bool,
    retry_at: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::sql_query(
        "UPDATE competitive_briefs SET status = CASE WHEN $4 THEN 'failed' ELSE 'queued' END, error = $5, \
                lease_until = CASE WHEN $4 THEN NULL ELSE $6 END, progress = 0 \
          WHERE id = $1 AND requested_at = $2 AND attempts = $3 AND status = 'running'",
    )
    .bind::<SqlUuid, _>(brief.id)
    .bind::<Timestamptz, _>(brief.requested_at)
    .bind::<Integer, _>(brief.attempts)
    .bind::<Bool, _>(final_attempt)
    .bind::<Text, _>(error)
    .bind::<Timestamptz, _>(retry_at)
    .execute(conn)
    .await?;
    Ok(updated > 0)
}

#[derive(QueryableByName)]
pub struct SummaryRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    target_name: String,
    #[diesel(sql_type = SqlUuid)]
    company_id: Uuid,
    #[diesel(sql_type = Text)]
    requester: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub requested_by: Option<Uuid>,
    #[diesel(sql_type = Timestamptz)]
    requested_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Int2)]
    progress: i16,
    #[diesel(sql_type = Nullable<Double>)]
    threat_score: Option<f64>,
    #[diesel(sql_type = Nullable<Integer>)]
    duration_ms: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    error: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub content: Option<serde_json::Value>,
}

impl SummaryRow {
    pub fn summary(&self) -> BriefSummary {
        BriefSummary {
            id: self.id,
            target_name: self.target_name.clone(),
            company_id: self.company_id,
            requester: self.requester.clone(),
            requested_at: self.requested_at,
            status: BriefStatus::parse(&self.status).unwrap_or(BriefStatus::Failed),
            progress: self.progress,
            threat_score: self.threat_score,
            duration_ms: self.duration_ms,
            error: self.error.clone(),
        }
    }
}

const SUMMARY_COLUMNS: &str = "id, target_name, company_id, requester, requested_by, requested_at, status, progress, \
                               threat_score, duration_ms, error";

/// The newest briefs, only `requested_by`'s when given, optionally of companies named like
/// `search`.
pub async fn list_briefs(
    conn: &mut Connection,
    requested_by: Option<Uuid>,
    search: &str,
    limit: i64,
) -> QueryResult<Vec<SummaryRow>> {
    diesel::sql_query(format!(
        "SELECT {SUMMARY_COLUMNS}, NULL::jsonb AS content FROM competitive_briefs \
          WHERE ($1::uuid IS NULL OR requested_by = $1) AND ($2 = '%%' OR lower(target_name) LIKE $2) \
          ORDER BY requested_at DESC LIMIT $3"
    ))
    .bind::<Nullable<SqlUuid>, _>(requested_by)
    .bind::<Text, _>(format!("%{}%", crate::escape::like(&search.to_lowercase())))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

pub async fn brief(conn: &mut Connection, id: Uuid) -> QueryResult<Option<SummaryRow>> {
    let rows: Vec<SummaryRow> =
        diesel::sql_query(format!("SELECT {SUMMARY_COLUMNS}, content FROM competitive_briefs WHERE id = $1"))
            .bind::<SqlUuid, _>(id)
            .load(conn)
            .await?;
    Ok(rows.into_iter().next())
}

#[derive(QueryableByName)]
struct PdfRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    requested_by: Option<Uuid>,
    #[diesel(sql_type = Text)]
    target_name: String,
    #[diesel(sql_type = Nullable<Bytea>)]
    pdf: Option<Vec<u8>>,
}

/// A brief's requester, target and PDF (none until it is ready).
pub async fn brief_pdf(
    conn: &mut Connection,
    id: Uuid,
) -> QueryResult<Option<(Option<Uuid>, String, Option<Vec<u8>>)>> {
    let rows: Vec<PdfRow> =
        diesel::sql_query("SELECT requested_by, target_name, pdf FROM competitive_briefs WHERE id = $1")
            .bind::<SqlUuid, _>(id)
            .load(conn)
            .await?;
    Ok(rows.into_iter().next().map(|r| (r.requested_by, r.target_name, r.pdf)))
}

#[derive(QueryableByName)]
pub struct CompetitorRow {
    #[diesel(sql_type = Int2)]
    pub rank: i16,
    #[diesel(sql_type = Jsonb)]
    pub company: serde_json::Value,
    #[diesel(sql_type = Double)]
    pub score: f64,
    #[diesel(sql_type = Double)]
    pub momentum: f64,
    #[diesel(sql_type = Jsonb)]
    pub contributions: serde_json::Value,
    #[diesel(sql_type = Text)]
    pub why: String,
}

pub async fn competitors(conn: &mut Connection, brief: Uuid) -> QueryResult<Vec<CompetitorRow>> {
    diesel::sql_query(
        "SELECT rank, company, score, momentum, contributions, why FROM competitors WHERE brief_id = $1 ORDER BY rank",
    )
    .bind::<SqlUuid, _>(brief)
    .load(conn)
    .await
}
