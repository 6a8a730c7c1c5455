//! Diesel queries on the tenant's webhooks, their deliveries and the attempts' log.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Integer, Jsonb, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use serde_json::Value;
use uuid::Uuid;

use crate::db::schema::{webhook_attempts, webhook_deliveries, webhooks};
use crate::db::Connection;

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = webhooks, check_for_backend(diesel::pg::Pg))]
pub struct WebhookRow {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub kinds: Vec<String>,
    pub secret: Vec<u8>,
    pub secret_key_id: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct DeliveryRow {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub occurred_at: DateTime<Utc>,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub gave_up_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = webhook_attempts, check_for_backend(diesel::pg::Pg))]
pub struct AttemptRow {
    pub delivery_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub request_headers: Value,
    pub status: Option<i16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

pub async fn insert(conn: &mut Connection, row: &WebhookRow) -> QueryResult<()> {
    diesel::insert_into(webhooks::table).values(row).execute(conn).await.map(drop)
}

/// Deletes a webhook with its deliveries and their log; its name, if there was one.
pub async fn delete(conn: &mut Connection, id: Uuid) -> QueryResult<Option<String>> {
    diesel::delete(webhooks::table.find(id)).returning(webhooks::name).get_result(conn).await.optional()
}

pub async fn list(conn: &mut Connection) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table.order(webhooks::created_at.asc()).select(WebhookRow::as_select()).load(conn).await
}

pub async fn count(conn: &mut Connection) -> QueryResult<i64> {
    webhooks::table.count().get_result(conn).await
}

pub async fn find(conn: &mut Connection, id: Uuid) -> QueryResult<Option<WebhookRow>> {
    webhooks::table.find(id).select(WebhookRow::as_select()).first(conn).await.optional()
}

/// Turns a webhook on (afresh: no failure streak) or off by an admin; its name, if it exists.
pub async fn set_enabled(conn: &mut Connection, id: Uuid, enabled: bool) -> QueryResult<Option<String>> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::enabled.eq(enabled),
            webhooks::disabled_reason.eq(None::<String>),
            webhooks::failing_since.eq(None::<DateTime<Utc>>),
        ))
        .returning(webhooks::name)
        .get_result(conn)
        .await
        .optional()
}

/// Deliveries waiting (neither confirmed nor given up), per webhook.
pub async fn pending(conn: &mut Connection) -> QueryResult<Vec<(Uuid, i64)>> {
    use webhook_deliveries::dsl as d;
    webhook_deliveries::table
        .filter(d::delivered_at.is_null().and(d::gave_up_at.is_null()))
        .group_by(d::webhook_id)
        .select((d::webhook_id, diesel::dsl::count_star()))
        .load(conn)
        .await
}

/// The newest deliveries of a webhook.
pub async fn recent_deliveries(conn: &mut Connection, webhook_id: Uuid, limit: i64) -> QueryResult<Vec<DeliveryRow>> {
    use webhook_deliveries::dsl as d;
    webhook_deliveries::table
        .filter(d::webhook_id.eq(webhook_id))
        .order((d::occurred_at.desc(), d::id))
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)
        .await
}

/// The attempts at these deliveries, oldest first.
pub async fn attempts_of(conn: &mut Connection, deliveries: &[Uuid]) -> QueryResult<Vec<AttemptRow>> {
    webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(deliveries))
        .order(webhook_attempts::id.asc())
        .select(AttemptRow::as_select())
        .load(conn)
        .await
}

/// Queues a delivery outside the bus (a test event), due now.
pub async fn queue(
    conn: &mut Connection,
    webhook_id: Uuid,
    kind: &str,
    payload: Value,
    now: DateTime<Utc>,
) -> QueryResult<Uuid> {
    use webhook_deliveries::dsl as d;
    let id = Uuid::new_v4();
    diesel::insert_into(webhook_deliveries::table)
        .values((
            d::id.eq(id),
            d::webhook_id.eq(webhook_id),
            d::kind.eq(kind),
            d::payload.eq(payload),
            d::occurred_at.eq(now),
            d::next_attempt_at.eq(now),
            d::retry_until.eq(now + super::sender::RETRY_FOR),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Makes a delivery due now with another day of retries, whatever became of it; the kind and
/// the webhook's name, if it exists.
pub async fn requeue(conn: &mut Connection, id: Uuid, now: DateTime<Utc>) -> QueryResult<Option<(String, String)>> {
    use webhook_deliveries::dsl as d;
    let Some((kind, webhook_id)) = diesel::update(webhook_deliveries::table.find(id))
        .set((
            d::next_attempt_at.eq(now),
            d::retry_until.eq(now + super::sender::RETRY_FOR),
            d::delivered_at.eq(None::<DateTime<Utc>>),
            d::gave_up_at.eq(None::<DateTime<Utc>>),
        ))
        .returning((d::kind, d::webhook_id))
        .get_result::<(String, Uuid)>(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let name = webhooks::table.find(webhook_id).select(webhooks::name).get_result(conn).await?;
    Ok(Some((kind, name)))
}

/// A delivery claimed for sending, with its webhook's address and sealed secret.
#[derive(QueryableByName, Clone)]
pub struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub webhook_id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: Value,
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: DateTime<Utc>,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub retry_until: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Bytea)]
    pub secret: Vec<u8>,
    #[diesel(sql_type = Text)]
    pub secret_key_id: String,
}

/// Claims up to `limit` deliveries due at `now` of enabled webhooks, oldest first, holding
/// each until `until` (other servers skip them; a stopped server's claim expires).
pub async fn claim(
    conn: &mut Connection,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "WITH due AS (
            SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.delivered_at IS NULL AND d.gave_up_at IS NULL AND d.next_attempt_at <= $1 AND w.enabled
             ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED)
         UPDATE webhook_deliveries d SET next_attempt_at = $2
           FROM due, webhooks w
          WHERE d.id = due.id AND w.id = d.webhook_id
         RETURNING d.id, d.webhook_id, w.name, d.kind, d.payload, d.occurred_at, d.attempts, d.retry_until,
                   w.url, w.secret, w.secret_key_id",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(until)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await
}

pub async fn log_attempt(conn: &mut Connection, attempt: &AttemptRow) -> QueryResult<()> {
    diesel::insert_into(webhook_attempts::table).values(attempt).execute(conn).await.map(drop)
}

/// The receiver confirmed: the delivery is done and its webhook's failure streak ends.
pub async fn delivered(conn: &mut Connection, claimed: &Claimed, status: i16, now: DateTime<Utc>) -> QueryResult<()> {
    use webhook_deliveries::dsl as d;
    diesel::update(webhook_deliveries::table.find(claimed.id))
        .set((
            d::delivered_at.eq(now),
            d::attempts.eq(claimed.attempts + 1),
            d::last_status.eq(status),
            d::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .await?;
    diesel::update(webhooks::table.find(claimed.webhook_id))
        .set(webhooks::failing_since.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await
        .map(drop)
}

/// An attempt failed: due again at `retry_at`, or given up when its day of retries is over.
/// Returns since when the webhook has been failing and whether it is still on.
pub async fn failed(
    conn: &mut Connection,
    claimed: &Claimed,
    status: Option<i16>,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<(DateTime<Utc>, bool)> {
    use webhook_deliveries::dsl as d;
    let give_up = (now >= claimed.retry_until).then_some(now);
    diesel::update(webhook_deliveries::table.find(claimed.id))
        .set((
            d::attempts.eq(claimed.attempts + 1),
            d::last_status.eq(status),
            d::last_error.eq(error),
            d::next_attempt_at.eq(retry_at),
            d::gave_up_at.eq(give_up),
        ))
        .execute(conn)
        .await?;
    diesel::sql_query(
        "UPDATE webhooks SET failing_since = COALESCE(failing_since, $2) WHERE id = $1 RETURNING failing_since, enabled",
    )
    .bind::<diesel::sql_types::Uuid, _>(claimed.webhook_id)
    .bind::<Timestamptz, _>(now)
    .get_result::<FailingSince>(conn)
    .await
    .map(|row| (row.failing_since, row.enabled))
}

#[derive(QueryableByName)]
struct FailingSince {
    #[diesel(sql_type = Timestamptz)]
    failing_since: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    enabled: bool,
}

/// Turns a webhook off for `reason` (its pending deliveries wait until it is on again).
pub async fn disable(conn: &mut Connection, id: Uuid, reason: &str) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id))
        .set((webhooks::enabled.eq(false), webhooks::disabled_reason.eq(reason)))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes finished deliveries (and their log) that happened before `before`.
pub async fn prune(conn: &mut Connection, before: DateTime<Utc>) -> QueryResult<usize> {
    use webhook_deliveries::dsl as d;
    diesel::delete(
        webhook_deliveries::table
            .filter(d::occurred_at.lt(before))
            .filter(d::delivered_at.is_not_null().or(d::gave_up_at.is_not_null())),
    )
    .execute(conn)
    .await
}
