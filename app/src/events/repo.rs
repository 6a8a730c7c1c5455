//! The `events` table: written by `bus::publish`, read back for replays, pruned past the window.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;
use uuid::Uuid;

use super::bus::Audience;
use super::hub::Announced;
use crate::db::schema::events;
use crate::db::Connection;
use crate::error::AppResult;

pub async fn insert(conn: &mut Connection, kind: &str, audience: &Audience, payload: Value) -> AppResult<()> {
    let (visible_to, user_id) = audience.columns();
    diesel::insert_into(events::table)
        .values((
            events::kind.eq(kind),
            events::visible_to.eq(visible_to),
            events::user_id.eq(user_id),
            events::payload.eq(payload),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A stored event, as the replay reads it and as its announcement carries it.
#[derive(Queryable, serde::Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub visible_to: Option<String>,
    pub user_id: Option<Uuid>,
    pub payload: Value,
}

impl EventRow {
    /// The event for the sockets; `None` for an audience no publisher writes.
    pub fn announced(self) -> Option<Announced> {
        let audience = Audience::from_columns(self.visible_to.as_deref(), self.user_id)?;
        Some(Announced { id: Some(self.id), kind: self.kind, audience, payload: self.payload })
    }
}

/// Up to `limit` events after `after`, oldest first, and whether older events than those
/// asked for have already been pruned (then the replay cannot be complete).
pub async fn since(conn: &mut Connection, after: i64, limit: i64) -> AppResult<(Vec<EventRow>, bool)> {
    let rows = events::table
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(limit)
        .select((events::id, events::kind, events::visible_to, events::user_id, events::payload))
        .load(conn)
        .await?;
    let oldest: Option<i64> = events::table.select(diesel::dsl::min(events::id)).get_result(conn).await?;
    let pruned = match oldest {
        // Ids can skip (a rolled-back insert still used its number), so this errs on the side
        // of "incomplete": the client then refreshes, which is always correct.
        Some(oldest) => oldest > after + 1,
        // Nothing kept: incomplete if anything was ever published after `after`.
        None => {
            let last: Option<i64> = diesel::select(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
            >("pg_sequence_last_value('events_id_seq')"))
            .get_result(conn)
            .await?;
            last.is_some_and(|last| last > after)
        }
    };
    Ok((rows, pruned))
}

/// The id of the latest event published (kept or pruned), 0 before the first: where a page
/// rendered now asks its socket to start, so nothing published after the render is missed.
pub async fn last_id(conn: &mut Connection) -> AppResult<i64> {
    let last: Option<i64> = diesel::select(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
        "GREATEST((SELECT max(id) FROM events), pg_sequence_last_value('events_id_seq'))",
    ))
    .get_result(conn)
    .await?;
    Ok(last.unwrap_or(0))
}

/// Deletes the events older than `before`; returns how many.
pub async fn prune(conn: &mut Connection, before: DateTime<Utc>) -> AppResult<usize> {
    Ok(diesel::delete(events::table.filter(events::occurred_at.lt(before))).execute(conn).await?)
}
