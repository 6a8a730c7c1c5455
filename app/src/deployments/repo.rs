//! Queries on the tenant's CI/CD integrations, deliveries and deployments.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use super::payload::Observed;
use crate::db::schema::{cicd_integrations, deployments, entities, entity_relations};
use crate::db::Connection;

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = cicd_integrations, check_for_backend(diesel::pg::Pg))]
pub struct IntegrationRow {
    pub provider: String,
    pub secret: Vec<u8>,
    pub secret_key_id: String,
    pub created_by: String,
    pub received: i64,
    pub refused: i64,
    pub last_received_at: Option<DateTime<Utc>>,
    pub last_refused_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = deployments, check_for_backend(diesel::pg::Pg))]
pub struct DeploymentRow {
    pub provider: String,
    pub kind: String,
    pub name: Option<String>,
    pub entity_refs: Vec<String>,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub commit_sha: Option<String>,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub async fn integrations(conn: &mut Connection) -> QueryResult<Vec<IntegrationRow>> {
    cicd_integrations::table.select(IntegrationRow::as_select()).load(conn).await
}

pub async fn integration(conn: &mut Connection, provider: &str) -> QueryResult<Option<IntegrationRow>> {
    cicd_integrations::table.find(provider).select(IntegrationRow::as_select()).first(conn).await.optional()
}

/// Sets (or replaces) a provider's secret; the counts stay.
pub async fn set_secret(
    conn: &mut Connection,
    provider: &str,
    secret: &[u8],
    key_id: &str,
    by: &str,
) -> QueryResult<()> {
    use cicd_integrations::dsl as i;
    diesel::insert_into(cicd_integrations::table)
        .values((i::provider.eq(provider), i::secret.eq(secret), i::secret_key_id.eq(key_id), i::created_by.eq(by)))
        .on_conflict(i::provider)
        .do_update()
        .set((
            i::secret.eq(secret),
            i::secret_key_id.eq(key_id),
            i::created_by.eq(by),
            i::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn count_received(conn: &mut Connection, provider: &str) -> QueryResult<()> {
    use cicd_integrations::dsl as i;
    diesel::update(cicd_integrations::table.find(provider))
        .set((i::received.eq(i::received + 1), i::last_received_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn count_refused(conn: &mut Connection, provider: &str) -> QueryResult<()> {
    use cicd_integrations::dsl as i;
    diesel::update(cicd_integrations::table.find(provider))
        .set((i::refused.eq(i::refused + 1), i::last_refused_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await
        .map(drop)
}

/// Records a delivery id; false when it was taken before (a provider's retry).
pub async fn take_delivery(conn: &mut Connection, provider: &str, delivery_id: &str) -> QueryResult<bool> {
    diesel::sql_query("INSERT INTO cicd_deliveries (provider, delivery_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind::<Text, _>(provider)
        .bind::<Text, _>(delivery_id)
        .execute(conn)
        .await
        .map(|inserted| inserted == 1)
}

/// The entities (refs and owners) whose annotation `annotation` is `value`, case ignored as
/// in catalog filters.
pub async fn annotated(
    conn: &mut Connection,
    annotation: &str,
    value: &str,
) -> QueryResult<Vec<(String, Option<String>)>> {
    let wanted =
        crate::catalog::index::value_entries(&format!("metadata.annotations.{annotation}"), &value.to_lowercase());
    entities::table
        .filter(entities::filters.overlaps_with(wanted))
        .order(entities::entity_ref.asc())
        .limit(100)
        .select((entities::entity_ref, entities::owner_ref))
        .load(conn)
        .await
}

/// Stores what an event says about a build or deployment: inserted, or updated where a
/// finished status is never replaced by an earlier one arriving late. Returns the status it
/// had before, if it existed.
pub async fn upsert(
    conn: &mut Connection,
    provider: &str,
    o: &Observed,
    entity_refs: &[String],
) -> QueryResult<Option<String>> {
    let before: Option<String> = deployments::table
        .filter(deployments::provider.eq(provider).and(deployments::external_id.eq(&o.external_id)))
        .select(deployments::status)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    diesel::sql_query(
        "INSERT INTO deployments (provider, external_id, kind, annotation, project, entity_refs, name, environment,
                                  version, commit_sha, commit_at, status, started_at, finished_at, url)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (provider, external_id) DO UPDATE SET
             entity_refs = EXCLUDED.entity_refs,
             name = COALESCE(EXCLUDED.name, deployments.name),
             environment = COALESCE(EXCLUDED.environment, deployments.environment),
             version = COALESCE(EXCLUDED.version, deployments.version),
             commit_sha = COALESCE(EXCLUDED.commit_sha, deployments.commit_sha),
             commit_at = COALESCE(EXCLUDED.commit_at, deployments.commit_at),
             status = CASE WHEN deployments.status IN ('success', 'failure', 'cancelled')
                            AND EXCLUDED.status IN ('queued', 'in_progress')
                           THEN deployments.status ELSE EXCLUDED.status END,
             started_at = COALESCE(deployments.started_at, EXCLUDED.started_at),
             finished_at = CASE WHEN deployments.status IN ('success', 'failure', 'cancelled')
                                 AND EXCLUDED.status IN ('queued', 'in_progress')
                                THEN deployments.finished_at ELSE EXCLUDED.finished_at END,
             url = COALESCE(EXCLUDED.url, deployments.url),
             updated_at = now()",
    )
    .bind::<Text, _>(provider)
    .bind::<Text, _>(&o.external_id)
    .bind::<Text, _>(o.kind)
    .bind::<Text, _>(provider_annotation(provider))
    .bind::<Text, _>(&o.project)
    .bind::<Array<Text>, _>(entity_refs)
    .bind::<Nullable<Text>, _>(&o.name)
    .bind::<Nullable<Text>, _>(&o.environment)
    .bind::<Nullable<Text>, _>(&o.version)
    .bind::<Nullable<Text>, _>(&o.commit_sha)
    .bind::<Nullable<Timestamptz>, _>(o.commit_at)
    .bind::<Text, _>(o.status.as_str())
    .bind::<Nullable<Timestamptz>, _>(o.started_at)
    .bind::<Nullable<Timestamptz>, _>(o.finished_at)
    .bind::<Nullable<Text>, _>(&o.url)
    .execute(conn)
    .await?;
    Ok(before)
}

fn provider_annotation(provider: &str) -> &'static str {
    super::model::Provider::parse(provider).map(|p| p.annotation()).unwrap_or("")
}

/// The newest builds and deployments of any of `refs` (by when they finished, or started).
pub async fn recent(conn: &mut Connection, refs: &[String], limit: i64) -> QueryResult<Vec<DeploymentRow>> {
    deployments::table
        .filter(deployments::entity_refs.overlaps_with(refs))
        .order((
            diesel::dsl::sql::<Timestamptz>("coalesce(finished_at, started_at, updated_at)").desc(),
            deployments::id.desc(),
        ))
        .limit(limit)
        .select(DeploymentRow::as_select())
        .load(conn)
        .await
}

/// A finished deployment of `refs` since `since`, with its commit's time when any event about
/// that commit carried it.
#[derive(QueryableByName)]
pub struct FactRow {
    #[diesel(sql_type = Array<Text>)]
    pub entity_refs: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub environment: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Timestamptz)]
    pub finished_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub commit_at: Option<DateTime<Utc>>,
}

pub async fn facts(conn: &mut Connection, refs: &[String], since: DateTime<Utc>) -> QueryResult<Vec<FactRow>> {
    diesel::sql_query(
        "SELECT d.entity_refs, d.environment, d.status, d.finished_at,
                COALESCE(d.commit_at, (SELECT min(c.commit_at) FROM deployments c
                                        WHERE c.commit_sha = d.commit_sha AND c.commit_at IS NOT NULL)) AS commit_at
           FROM deployments d
          WHERE d.entity_refs && $1 AND d.kind = 'deployment' AND d.finished_at > $2
            AND d.status IN ('success', 'failure')
          LIMIT 100000",
    )
    .bind::<Array<Text>, _>(refs)
    .bind::<Timestamptz, _>(since)
    .load(conn)
    .await
}

/// Events no entity matched, grouped by what they name.
#[derive(QueryableByName)]
pub struct UnmatchedRow {
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub annotation: String,
    #[diesel(sql_type = Text)]
    pub project: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub events: i64,
    #[diesel(sql_type = Timestamptz)]
    pub last_at: DateTime<Utc>,
}

pub async fn unmatched(conn: &mut Connection, limit: i64) -> QueryResult<Vec<UnmatchedRow>> {
    diesel::sql_query(
        "SELECT provider, annotation, project, count(*) AS events, max(updated_at) AS last_at
           FROM deployments WHERE cardinality(entity_refs) = 0
          GROUP BY provider, annotation, project ORDER BY last_at DESC LIMIT $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await
}

/// What the figures of an entity page cover: a Group's entities, a System's parts, or the
/// entity itself.
pub async fn scope_of(conn: &mut Connection, entity_ref: &str, kind: &str) -> QueryResult<Vec<String>> {
    match kind.to_ascii_lowercase().as_str() {
        "group" => {
            entities::table
                .filter(entities::owner_ref.eq(entity_ref))
                .order(entities::entity_ref.asc())
                .limit(10_000)
                .select(entities::entity_ref)
                .load(conn)
                .await
        }
        "system" => {
            entity_relations::table
                .filter(entity_relations::source_ref.eq(entity_ref).and(entity_relations::relation.eq("hasPart")))
                .select(entity_relations::target_ref)
                .distinct()
                .limit(10_000)
                .load(conn)
                .await
        }
        _ => Ok(vec![entity_ref.to_owned()]),
    }
}

/// Forgets delivery ids taken before `before` (providers retry within hours).
pub async fn forget_deliveries(conn: &mut Connection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::sql_query("DELETE FROM cicd_deliveries WHERE received_at < $1")
        .bind::<Timestamptz, _>(before)
        .execute(conn)
        .await
}
