//! Diesel queries on the tenant's audit stream destinations and their delivery log.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::stream_model::DeliveryView;
use crate::db::schema::{audit_deliveries, audit_destinations};
use crate::db::Connection;

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = audit_destinations, check_for_backend(diesel::pg::Pg))]
pub struct DestinationRow {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub secret: Vec<u8>,
    pub secret_key_id: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub delivered_seq: i64,
    pub failures: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub leased_until: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

pub async fn insert(conn: &mut Connection, row: &DestinationRow) -> QueryResult<()> {
    diesel::insert_into(audit_destinations::table).values(row).execute(conn).await.map(drop)
}

/// Deletes a destination with its delivery log; its name, if there was one.
pub async fn delete(conn: &mut Connection, id: Uuid) -> QueryResult<Option<String>> {
    diesel::delete(audit_destinations::table.find(id))
        .returning(audit_destinations::name)
        .get_result(conn)
        .await
        .optional()
}

pub async fn list(conn: &mut Connection) -> QueryResult<Vec<DestinationRow>> {
    audit_destinations::table
        .order(audit_destinations::created_at.asc())
        .select(DestinationRow::as_select())
        .load(conn)
        .await
}

pub async fn any(conn: &mut Connection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(audit_destinations::table.select(audit_destinations::id))).get_result(conn).await
}

/// Destinations whose next attempt is due at `now` and that nobody holds.
pub async fn due(conn: &mut Connection, now: DateTime<Utc>) -> QueryResult<Vec<Uuid>> {
    use audit_destinations::dsl as d;
    audit_destinations::table
        .filter(d::next_attempt_at.le(now))
        .filter(d::leased_until.is_null().or(d::leased_until.lt(now)))
        .select(d::id)
        .load(conn)
        .await
}

/// Takes the destination until `until` if it is still due and free; the row as taken.
pub async fn lease(
    conn: &mut Connection,
    id: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<Option<DestinationRow>> {
    use audit_destinations::dsl as d;
    diesel::update(
        audit_destinations::table
            .find(id)
            .filter(d::next_attempt_at.le(now))
            .filter(d::leased_until.is_null().or(d::leased_until.lt(now))),
    )
    .set(d::leased_until.eq(until))
    .returning(DestinationRow::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// The receiver confirmed everything through `seq`: move on and hand the destination back.
pub async fn confirm(conn: &mut Connection, id: Uuid, seq: i64, now: DateTime<Utc>) -> QueryResult<()> {
    use audit_destinations::dsl as d;
    diesel::update(audit_destinations::table.find(id))
        .set((
            d::delivered_seq.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>("GREATEST(delivered_seq, ")
                .bind::<diesel::sql_types::BigInt, _>(seq)
                .sql(")")),
            d::failures.eq(0),
            d::next_attempt_at.eq(now),
            d::leased_until.eq(None::<DateTime<Utc>>),
            d::last_success_at.eq(now),
            d::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The attempt failed: try again at `next_attempt_at`.
pub async fn fail(
    conn: &mut Connection,
    id: Uuid,
    failures: i32,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> QueryResult<()> {
    use audit_destinations::dsl as d;
    diesel::update(audit_destinations::table.find(id))
        .set((
            d::failures.eq(failures),
            d::next_attempt_at.eq(next_attempt_at),
            d::leased_until.eq(None::<DateTime<Utc>>),
            d::last_error.eq(error),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Nothing to send: hand the destination back as it was.
pub async fn release(conn: &mut Connection, id: Uuid) -> QueryResult<()> {
    diesel::update(audit_destinations::table.find(id))
        .set(audit_destinations::leased_until.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await
        .map(drop)
}

#[derive(Insertable)]
#[diesel(table_name = audit_deliveries)]
pub struct NewDelivery {
    pub destination_id: Uuid,
    pub delivery_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub first_seq: i64,
    pub last_seq: i64,
    pub events: i32,
    pub status: Option<i16>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// Logs an attempt and drops log entries of the destination older than `keep_after`.
pub async fn log_delivery(conn: &mut Connection, delivery: NewDelivery, keep_after: DateTime<Utc>) -> QueryResult<()> {
    use audit_deliveries::dsl as l;
    let destination = delivery.destination_id;
    diesel::insert_into(audit_deliveries::table).values(delivery).execute(conn).await?;
    diesel::delete(
        audit_deliveries::table.filter(l::destination_id.eq(destination).and(l::attempted_at.lt(keep_after))),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A delivery log row as read: delivery id, time, positions, events, status, error, duration.
type DeliveryColumns = (Uuid, DateTime<Utc>, i64, i64, i32, Option<i16>, Option<String>, i32);

/// The destination's latest `limit` attempts, newest first.
pub async fn recent_deliveries(conn: &mut Connection, destination: Uuid, limit: i64) -> QueryResult<Vec<DeliveryView>> {
    use audit_deliveries::dsl as l;
    let rows: Vec<DeliveryColumns> = audit_deliveries::table
        .filter(l::destination_id.eq(destination))
        .order((l::attempted_at.desc(), l::id.desc()))
        .limit(limit)
        .select((
            l::delivery_id,
            l::attempted_at,
            l::first_seq,
            l::last_seq,
            l::events,
            l::status,
            l::error,
            l::duration_ms,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(delivery_id, attempted_at, first_seq, last_seq, events, status, error, duration_ms)| DeliveryView {
            delivery_id,
            attempted_at,
            first_seq,
            last_seq,
            events,
            status,
            error,
            duration_ms,
        })
        .collect())
}
