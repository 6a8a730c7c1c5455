//! The plans PostgreSQL chose for the bench's rows, as `EXPLAIN (ANALYZE, BUFFERS)` prints
//! them, for the statements the server really sent: while one call of a row runs, PostgreSQL's
//! `auto_explain` (which `make bench`'s PostgreSQL loads) logs the plan of every statement, and
//! the part of the server's log written meanwhile is kept. It is on only during those calls,
//! so the timed calls run without it.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use app::db::Database;
use app::error::AppError;

/// `auto_explain`'s settings while a row is captured; PostgreSQL's own defaults otherwise.
const SETTINGS: [(&str, &str); 4] =
    [("log_min_duration", "0"), ("log_analyze", "on"), ("log_buffers", "on"), ("log_timing", "on")];
/// The log `pg_ctl -l` writes, relative to the data directory (`scripts/services.sh`).
const LOG: &str = "server.log";
/// Every backend must have read the new settings before the captured call starts; a backend
/// reads them before its next statement once PostgreSQL's reload signal has reached it.
const RELOAD: Duration = Duration::from_millis(300);

pub(super) struct Plans {
    conn: AsyncPgConnection,
    text: String,
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

#[derive(QueryableByName)]
struct LogSize {
    #[diesel(sql_type = Nullable<BigInt>)]
    size: Option<i64>,
}

#[derive(QueryableByName)]
struct LogText {
    #[diesel(sql_type = Text)]
    text: String,
}

impl Plans {
    /// `None` (and why, printed) where the database cannot give plans: `auto_explain` not
    /// loaded, or no log in its data directory.
    pub(super) async fn open(db: &Database) -> Result<Option<Self>, AppError> {
        let mut conn = AsyncPgConnection::establish(db.url()).await.map_err(AppError::internal)?;
        let loaded = diesel::sql_query("SELECT current_setting('auto_explain.log_min_duration', true) AS value")
            .get_result::<Setting>(&mut conn)
            .await?;
        if loaded.value.is_none() {
            println!("plans: none, PostgreSQL has not loaded auto_explain");
            return Ok(None);
        }
        // Its own statements are not the bench's.
        conn.batch_execute("SET auto_explain.log_min_duration = -1").await?;
        let mut plans = Plans { conn, text: String::new() };
        if plans.log_size().await?.is_none() {
            println!("plans: none, PostgreSQL writes no {LOG} in its data directory");
            return Ok(None);
        }
        // A run that stopped half-way may have left them on.
        plans.set(false).await?;
        Ok(Some(plans))
    }

    /// Runs `call` once with every statement's plan logged, and keeps those plans under `label`.
    pub(super) async fn capture<F>(&mut self, label: &str, call: F) -> Result<(), AppError>
    where
        F: Future<Output = Result<(), AppError>>,
    {
        self.set(true).await?;
        let from = self.log_size().await?.unwrap_or(0);
        let called = call.await;
        let to = self.log_size().await?.unwrap_or(0);
        self.set(false).await?;
        called?;
        let logged = diesel::sql_query("SELECT pg_read_file($1, $2, $3) AS text")
            .bind::<Text, _>(LOG)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>((to - from).max(0))
            .get_result::<LogText>(&mut self.conn)
            .await?;
        self.text.push_str(&format!("== {label}\n"));
        for plan in plans_in(&logged.text) {
            self.text.push_str(plan);
            self.text.push('\n');
        }
        self.text.push('\n');
        Ok(())
    }

    pub(super) fn write(self, path: &Path) -> Result<(), AppError> {
        std::fs::write(path, self.text).map_err(AppError::internal)?;
        println!("plans of the rows (EXPLAIN ANALYZE, BUFFERS): {}", path.display());
        Ok(())
    }

    async fn set(&mut self, on: bool) -> Result<(), AppError> {
        // One statement at a time: ALTER SYSTEM cannot run in a transaction, even an implicit one.
        for (name, value) in SETTINGS {
            let statement = match on {
                true => format!("ALTER SYSTEM SET auto_explain.{name} = '{value}'"),
                false => format!("ALTER SYSTEM RESET auto_explain.{name}"),
            };
            self.conn.batch_execute(&statement).await?;
        }
        self.conn.batch_execute("SELECT pg_reload_conf()").await?;
        tokio::time::sleep(RELOAD).await;
        Ok(())
    }

    async fn log_size(&mut self) -> Result<Option<i64>, AppError> {
        let size = diesel::sql_query("SELECT (pg_stat_file($1, true)).size AS size")
            .bind::<Text, _>(LOG)
            .get_result::<LogSize>(&mut self.conn)
            .await?;
        Ok(size.size)
    }
}

/// The plans in a stretch of PostgreSQL's log, each from its duration on: an entry starts on
/// a line that is not indented, and its plan's lines are.
fn plans_in(log: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let mut start = 0;
    for (at, _) in log.match_indices('\n') {
        let next = at + 1;
        if next < log.len() && !log[next..].starts_with(['\t', ' ']) {
            entries.push(&log[start..next]);
            start = next;
        }
    }
    entries.push(&log[start..]);
    entries
        .into_iter()
        .filter(|entry| entry.contains("  plan:"))
        .filter_map(|entry| entry.find("duration: ").map(|at| entry[at..].trim_end()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::plans_in;

    #[test]
    fn plans_are_cut_from_the_log_with_their_indented_lines() {
        let log = "2026-12-07 15:00:00.000 UTC [7] LOG:  duration: 0.052 ms  plan:\n\
                   \tQuery Text: SELECT 1\n\
                   \tResult  (cost=0.00..0.01 rows=1 width=4)\n\
                   2026-12-07 15:00:00.001 UTC [8] LOG:  checkpoint starting: time\n\
                   2026-12-07 15:00:00.002 UTC [7] LOG:  duration: 1.500 ms  plan:\n\
                   \tQuery Text: SELECT 2\n";
        let plans = plans_in(log);
        assert_eq!(
            plans,
            [
                "duration: 0.052 ms  plan:\n\tQuery Text: SELECT 1\n\tResult  (cost=0.00..0.01 rows=1 width=4)",
                "duration: 1.500 ms  plan:\n\tQuery Text: SELECT 2",
            ]
        );
    }
}
