//! Commits that do not wait for the disk, for bulk work made of many transactions, and the
//! one commit that makes all of them durable before the work reports success.
//!
//! A commit with `synchronous_commit` off returns once its WAL is written to the operating
//! system; PostgreSQL's WAL writer puts it on disk within `wal_writer_delay` (200 ms). A crash
//! before that loses the transaction whole, never half of it. Since WAL is one sequence, a
//! later commit that does wait for the disk (the default) brings every earlier one with it.

use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use super::Connection;

/// Lets the current transaction commit without waiting for the disk.
pub async fn commit_without_waiting(conn: &mut Connection) -> diesel::QueryResult<()> {
    conn.batch_execute("SET LOCAL synchronous_commit = off").await
}

/// Makes the current transaction's commit wait until the WAL up to it, and with it every
/// commit before it, is on disk. (A transaction that never took a transaction id writes no
/// commit record and would wait for nothing.)
pub async fn commit_durably(conn: &mut Connection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_current_xact_id()").execute(conn).await.map(drop)
}
