//! Queries behind the monthly partitions, the archive and restore (see `archive`).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Jsonb, Text, Timestamptz};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use super::repo::StoredEvent;
use crate::db::schema::{audit_archive_erasures, audit_archives, audit_chain, audit_events, audit_retention};
use crate::db::Connection;

/// The partition of a month (named by the migration's `audit_month_partition`).
pub fn partition_name(month: NaiveDate) -> String {
    format!("audit_events_{}", month.format("%Y_%m"))
}

fn restore_table(month: NaiveDate) -> String {
    format!("audit_restore_{}", month.format("%Y_%m"))
}

/// Takes the tenant's archiver lock on a connection of its own (not pooled), held until the
/// connection closes: a second archiver skips the tenant, and an archiver that dies lets go.
pub async fn try_lock(conn: &mut Connection, tenant_id: i64) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = Bool)]
        locked: bool,
    }
    let locked: Locked =
        diesel::sql_query("SELECT pg_try_advisory_lock(hashtext('beacon audit archive'), $1) AS locked")
            .bind::<Integer, _>(tenant_id as i32)
            .get_result(conn)
            .await?;
    Ok(locked.locked)
}

/// Creates the partitions of the months from `since` through `through` that are missing. A new
/// partition needs a moment's lock on the audit log: rather than queue every audit write behind
/// a long transaction that holds it, this gives up after two seconds (months are made two ahead,
/// so a later pass has time to try again).
pub async fn ensure_months(conn: &mut Connection, since: DateTime<Utc>, through: DateTime<Utc>) -> QueryResult<()> {
    conn.batch_execute("SET LOCAL lock_timeout = '2s'").await?;
    diesel::sql_query("SELECT audit_ensure_months($1, $2)")
        .bind::<Timestamptz, _>(since)
        .bind::<Timestamptz, _>(through)
        .execute(conn)
        .await
        .map(drop)
}

/// The months that have a partition, oldest first.
pub async fn partitioned_months(conn: &mut Connection) -> QueryResult<Vec<NaiveDate>> {
    #[derive(QueryableByName)]
    struct Partition {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Partition> = diesel::sql_query(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1",
    )
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|p| {
            let month = p.name.strip_prefix("audit_events_")?;
            NaiveDate::parse_from_str(&format!("{month}_01"), "%Y_%m_%d").ok()
        })
        .collect())
}

pub async fn hot_days(conn: &mut Connection) -> QueryResult<i32> {
    audit_retention::table.select(audit_retention::hot_days).first(conn).await
}

pub async fn set_hot_days(conn: &mut Connection, days: i32, by: &str) -> QueryResult<i32> {
    diesel::update(audit_retention::table)
        .set((
            audit_retention::hot_days.eq(days),
            audit_retention::updated_at.eq(Utc::now()),
            audit_retention::updated_by.eq(by),
        ))
        .returning(audit_retention::hot_days)
        .get_result(conn)
        .await
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = audit_archives, check_for_backend(diesel::pg::Pg))]
pub struct ArchiveRow {
    pub month: NaiveDate,
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
    pub restored_at: Option<DateTime<Utc>>,
    pub manifest: Option<serde_json::Value>,
}

impl ArchiveRow {
    /// The signed manifest recorded once the month was archived; `None` while it is being
    /// written, or if the record was damaged.
    pub fn manifest(&self) -> Option<super::archive_file::Manifest> {
        self.manifest.clone().and_then(|m| serde_json::from_value(m).ok())
    }
}

pub async fn archives(conn: &mut Connection) -> QueryResult<Vec<ArchiveRow>> {
    audit_archives::table.order(audit_archives::month.desc()).select(ArchiveRow::as_select()).load(conn).await
}

pub async fn archive(conn: &mut Connection, month: NaiveDate) -> QueryResult<Option<ArchiveRow>> {
    audit_archives::table.find(month).select(ArchiveRow::as_select()).first(conn).await.optional()
}

/// Marks a month as being written, unless it already was archived; whether to go on.
pub async fn start_writing(conn: &mut Connection, month: NaiveDate) -> QueryResult<bool> {
    let row = archive(conn, month).await?;
    match row {
        Some(row) => Ok(row.state == "writing"),
        None => {
            diesel::insert_into(audit_archives::table)
                .values((
                    audit_archives::month.eq(month),
                    audit_archives::state.eq("writing"),
                    audit_archives::started_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
            Ok(true)
        }
    }
}

/// Fresh statistics for a month about to be read in full (bulk-loaded rows may have none, and
/// a plan made without them can scan the month for every batch).
pub async fn analyze(conn: &mut Connection, month: NaiveDate) -> QueryResult<()> {
    conn.batch_execute(&format!("ANALYZE {}", partition_name(month))).await
}

/// A month's events with ids above `after`, by id, and which of them are in the chain: one
/// range scan of the month's primary key per batch, however large the month.
pub async fn events_batch(
    conn: &mut Connection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    after: i64,
    limit: i64,
) -> QueryResult<(Vec<StoredEvent>, Vec<i64>)> {
    let events: Vec<StoredEvent> = audit_events::table
        .filter(audit_events::id.gt(after))
        .filter(audit_events::occurred_at.ge(start).and(audit_events::occurred_at.lt(end)))
        .order(audit_events::id.asc())
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(conn)
        .await?;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let chained =
        audit_chain::table.filter(audit_chain::event_id.eq_any(&ids)).select(audit_chain::event_id).load(conn).await?;
    Ok((events, chained))
}

/// The first chain position of a month's events (where reading it in chain order starts).
pub async fn first_seq(
    conn: &mut Connection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> QueryResult<Option<i64>> {
    audit_chain::table
        .inner_join(audit_events::table)
        .filter(audit_events::occurred_at.ge(start).and(audit_events::occurred_at.lt(end)))
        .select(diesel::dsl::min(audit_chain::seq))
        .first(conn)
        .await
}

/// A month's chained events after position `after`, in chain order, with position and hash.
pub async fn chained_batch(
    conn: &mut Connection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, Vec<u8>, StoredEvent)>> {
    audit_chain::table
        .inner_join(audit_events::table)
        .filter(audit_events::occurred_at.ge(start).and(audit_events::occurred_at.lt(end)))
        .filter(audit_chain::seq.gt(after))
        .order(audit_chain::seq.asc())
        .limit(limit)
        .select((audit_chain::seq, audit_chain::chain_hash, StoredEvent::as_select()))
        .load(conn)
        .await
}

/// The chain hash at a position (what the next one links from).
pub async fn chain_hash_at(conn: &mut Connection, seq: i64) -> QueryResult<Option<Vec<u8>>> {
    audit_chain::table.find(seq).select(audit_chain::chain_hash).first(conn).await.optional()
}

pub async fn count_between(conn: &mut Connection, (start, end): (DateTime<Utc>, DateTime<Utc>)) -> QueryResult<i64> {
    audit_events::table
        .filter(audit_events::occurred_at.ge(start).and(audit_events::occurred_at.lt(end)))
        .count()
        .get_result(conn)
        .await
}

/// Records the month as archived and drops its partition, in the caller's transaction (if the
/// partition cannot be detached within two seconds, nothing changes and the next run tries again).
pub async fn drop_archived(conn: &mut Connection, month: NaiveDate, manifest: &serde_json::Value) -> QueryResult<()> {
    diesel::update(audit_archives::table.find(month))
        .set((
            audit_archives::state.eq("archived"),
            audit_archives::archived_at.eq(Utc::now()),
            audit_archives::manifest.eq(manifest),
        ))
        .execute(conn)
        .await?;
    drop_partition(conn, month).await
}

/// The detach needs a moment's exclusive lock on the audit log: rather than queue every audit
/// write behind a long transaction that holds the table, it gives up after two seconds.
async fn drop_partition(conn: &mut Connection, month: NaiveDate) -> QueryResult<()> {
    let partition = partition_name(month);
    conn.batch_execute(&format!(
        "SET LOCAL lock_timeout = '2s'; ALTER TABLE audit_events DETACH PARTITION {partition}; DROP TABLE {partition};"
    ))
    .await
}

/// An empty table to restore a month into, replacing what an interrupted restore left.
pub async fn create_restore_table(conn: &mut Connection, month: NaiveDate) -> QueryResult<()> {
    let table = restore_table(month);
    conn.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
    ))
    .await
}

pub async fn drop_restore_table(conn: &mut Connection, month: NaiveDate) -> QueryResult<()> {
    conn.batch_execute(&format!("DROP TABLE IF EXISTS {}", restore_table(month))).await
}

/// Inserts archived events (a JSON array of `ArchivedLine`s) into the restore table.
pub async fn insert_restored(conn: &mut Connection, month: NaiveDate, lines: &serde_json::Value) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "INSERT INTO {} SELECT r.id, r.occurred_at, r.actor_user_id, r.actor, r.action, r.target, r.outcome,
                r.severity, r.ip, r.user_agent, r.request_id, r.details, decode(r.personal_salt, 'hex'),
                decode(r.personal_digest, 'hex'), decode(r.content_hash, 'hex')
           FROM jsonb_to_recordset($1) AS r(id BIGINT, occurred_at TIMESTAMPTZ, actor_user_id UUID, actor TEXT,
                action TEXT, target TEXT, outcome TEXT, severity TEXT, ip TEXT, user_agent TEXT, request_id TEXT,
                details JSONB, personal_salt TEXT, personal_digest TEXT, content_hash TEXT)",
        restore_table(month)
    ))
    .bind::<Jsonb, _>(lines)
    .execute(conn)
    .await
}

/// Makes the restored table the month's partition, read-only, and marks the month restored.
/// Attaching builds the audit log's indexes on it, minutes for a month of millions of events:
/// past the usual statement budget, and harmless meanwhile (the lock it holds on the audit log
/// lets every other read and write through).
pub async fn attach_restored(conn: &mut Connection, month: NaiveDate) -> QueryResult<()> {
    let (table, partition) = (restore_table(month), partition_name(month));
    let (start, end) = super::archive_file::month_bounds(month);
    conn.batch_execute(&format!(
        "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '30min';
         ALTER TABLE {table} RENAME TO {partition};
         ALTER TABLE audit_events ATTACH PARTITION {partition} FOR VALUES FROM ('{start}') TO ('{end}');
         CREATE TRIGGER audit_events_append_only BEFORE TRUNCATE ON {partition}
             FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
         CREATE TRIGGER audit_restored_read_only BEFORE INSERT ON {partition}
             FOR EACH ROW EXECUTE FUNCTION audit_restored_read_only();",
        start = start.to_rfc3339(),
        end = end.to_rfc3339(),
    ))
    .await?;
    diesel::update(audit_archives::table.find(month))
        .set((audit_archives::state.eq("restored"), audit_archives::restored_at.eq(Utc::now())))
        .execute(conn)
        .await
        .map(drop)
}

/// Drops a restored month's partition again; its archive stays the record.
pub async fn drop_restored(conn: &mut Connection, month: NaiveDate) -> QueryResult<()> {
    drop_partition(conn, month).await?;
    diesel::update(audit_archives::table.find(month))
        .set((audit_archives::state.eq("archived"), audit_archives::restored_at.eq(None::<DateTime<Utc>>)))
        .execute(conn)
        .await
        .map(drop)
}

/// Holds off the archiver's changes to the archive records until the caller's transaction ends
/// (an erasure: a month being written while it runs is then queued, and written again once
/// archived, rather than archived with the person still in it).
pub async fn hold_archive_records(conn: &mut Connection) -> QueryResult<()> {
    conn.batch_execute("LOCK TABLE audit_archives IN SHARE ROW EXCLUSIVE MODE").await
}

/// Every month with an archive record, whatever its state.
pub async fn recorded_months(conn: &mut Connection) -> QueryResult<Vec<NaiveDate>> {
    audit_archives::table.select(audit_archives::month).order(audit_archives::month.asc()).load(conn).await
}

pub async fn queue_erasure(conn: &mut Connection, month: NaiveDate, key_id: &str, sealed: &[u8]) -> QueryResult<()> {
    diesel::insert_into(audit_archive_erasures::table)
        .values((
            audit_archive_erasures::month.eq(month),
            audit_archive_erasures::key_id.eq(key_id),
            audit_archive_erasures::sealed.eq(sealed),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// An erasure waiting for an archived month, the person sealed (see `archive_erasure`).
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = audit_archive_erasures, check_for_backend(diesel::pg::Pg))]
pub struct QueuedErasure {
    pub id: i64,
    pub month: NaiveDate,
    pub key_id: String,
    pub sealed: Vec<u8>,
}

/// The erasures of months that are archived or restored (one being written waits), of one
/// month or all, in the order they were asked for.
pub async fn queued_erasures(conn: &mut Connection, month: Option<NaiveDate>) -> QueryResult<Vec<QueuedErasure>> {
    let mut query = audit_archive_erasures::table
        .inner_join(audit_archives::table)
        .filter(audit_archives::state.ne("writing"))
        .order(audit_archive_erasures::id.asc())
        .select(QueuedErasure::as_select())
        .into_boxed();
    if let Some(month) = month {
        query = query.filter(audit_archive_erasures::month.eq(month));
    }
    query.load(conn).await
}

/// Whether the archiver has erasure work: a queued erasure of a month it can write, or a
/// replaced file still to delete.
pub async fn erasure_work_waits(conn: &mut Connection) -> QueryResult<bool> {
    let queued =
        audit_archive_erasures::table.inner_join(audit_archives::table).filter(audit_archives::state.ne("writing"));
    let superseded = audit_archives::table.filter(audit_archives::superseded_object.is_not_null());
    diesel::select(diesel::dsl::exists(queued).or(diesel::dsl::exists(superseded))).get_result(conn).await
}

/// The erasures `ids` of `month` are done; with `rewritten`, the month's new manifest and the
/// object it replaces (deleted from storage next, see `superseded_objects`).
pub async fn finish_erasures(
    conn: &mut Connection,
    month: NaiveDate,
    ids: &[i64],
    rewritten: Option<(&serde_json::Value, &str)>,
) -> QueryResult<()> {
    diesel::delete(audit_archive_erasures::table.filter(audit_archive_erasures::id.eq_any(ids))).execute(conn).await?;
    if let Some((manifest, superseded)) = rewritten {
        diesel::update(audit_archives::table.find(month))
            .set((audit_archives::manifest.eq(manifest), audit_archives::superseded_object.eq(superseded)))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The erasures `ids` failed this time (they are tried again by the next pass).
pub async fn erasures_failed(conn: &mut Connection, ids: &[i64], error: &str) -> QueryResult<()> {
    diesel::update(audit_archive_erasures::table.filter(audit_archive_erasures::id.eq_any(ids)))
        .set((
            audit_archive_erasures::attempts.eq(audit_archive_erasures::attempts + 1),
            audit_archive_erasures::last_error.eq(error),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Per month, the erasures waiting and the error the newest failed one met.
pub async fn erasure_backlog(conn: &mut Connection) -> QueryResult<Vec<(NaiveDate, i64, Option<String>)>> {
    let latest_error = diesel::dsl::sql::<diesel::sql_types::Nullable<Text>>(
        "(array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error IS NOT NULL))[1]",
    );
    audit_archive_erasures::table
        .group_by(audit_archive_erasures::month)
        .select((audit_archive_erasures::month, diesel::dsl::count_star(), latest_error))
        .load(conn)
        .await
}

/// Months whose archive was written again, with the object the rewrite replaced.
pub async fn superseded_objects(conn: &mut Connection) -> QueryResult<Vec<(NaiveDate, String)>> {
    audit_archives::table
        .filter(audit_archives::superseded_object.is_not_null())
        .select((audit_archives::month, audit_archives::superseded_object.assume_not_null()))
        .load(conn)
        .await
}

pub async fn superseded_deleted(conn: &mut Connection, month: NaiveDate) -> QueryResult<()> {
    diesel::update(audit_archives::table.find(month))
        .set(audit_archives::superseded_object.eq(None::<String>))
        .execute(conn)
        .await
        .map(drop)
}
