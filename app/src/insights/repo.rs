//! The queries of the usage insights: the counters' table, and what the audit log and the API
//! access log already hold.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{Array, BigInt, Date, Text, Timestamptz, Uuid as SqlUuid};
use diesel::QueryResult;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::audit::model::AuditAction;
use crate::db::Connection;

pub struct CountRow {
    pub day: NaiveDate,
    pub metric: &'static str,
    pub subject: String,
    pub count: i64,
}

/// Rows per statement: four parameters each, far below PostgreSQL's limit.
const BATCH: usize = 1_000;

/// Adds `rows` to the day's counts.
pub async fn add_counts(conn: &mut Connection, rows: Vec<CountRow>) -> QueryResult<()> {
    for chunk in rows.chunks(BATCH) {
        diesel::sql_query(
            "INSERT INTO usage_counts (day, metric, subject, count) SELECT * FROM unnest($1, $2, $3, $4) \
             ON CONFLICT (metric, day, subject) DO UPDATE SET count = usage_counts.count + EXCLUDED.count",
        )
        .bind::<Array<Date>, _>(chunk.iter().map(|r| r.day).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|r| r.metric).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(chunk.iter().map(|r| r.count).collect::<Vec<_>>())
        .execute(conn)
        .await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
pub struct SubjectCount {
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// The `limit` subjects of `metric` counted most since `since`, with their counts.
pub async fn top(conn: &mut Connection, metric: &str, since: NaiveDate, limit: i64) -> QueryResult<Vec<SubjectCount>> {
    diesel::sql_query(
        "SELECT subject, sum(count)::bigint AS count FROM usage_counts WHERE metric = $1 AND day >= $2 \
         GROUP BY subject ORDER BY 2 DESC, 1 LIMIT $3",
    )
    .bind::<Text, _>(metric)
    .bind::<Date, _>(since)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

#[derive(QueryableByName)]
pub struct ActiveDay {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = SqlUuid)]
    pub user_id: Uuid,
}

/// Each (day, member) pair since `since` where the member made a request (counted by
/// `insights::counter`): at most members × days rows, whatever the traffic.
pub async fn active_days(conn: &mut Connection, since: NaiveDate) -> QueryResult<Vec<ActiveDay>> {
    diesel::sql_query(
        "SELECT day, subject::uuid AS user_id FROM usage_counts WHERE metric = 'active_member' AND day >= $1",
    )
    .bind::<Date, _>(since)
    .load(conn)
    .await
}

#[derive(QueryableByName)]
pub struct DailyCount {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// Successful password and single sign-on sign-ins per day since `since`.
pub async fn sign_ins(conn: &mut Connection, since: DateTime<Utc>) -> QueryResult<Vec<DailyCount>> {
    let actions: Vec<&str> =
        [AuditAction::AuthLogin, AuditAction::SsoLogin].into_iter().flat_map(AuditAction::stored_names).collect();
    diesel::sql_query(
        "SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, action, count(*) AS count FROM audit_events \
          WHERE action = ANY ($1) AND occurred_at >= $2 AND outcome = 'success' GROUP BY 1, 2",
    )
    .bind::<Array<Text>, _>(actions)
    .bind::<Timestamptz, _>(since)
    .load(conn)
    .await
}
