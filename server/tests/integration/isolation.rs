use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use crate::support::{env, TestApp};
use app::audit::model::AuditAction;
use app::audit::service::{record, AuditEvent, AuditSource};
use app::db::Database;
use app::error::AppError;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Writes the audit row that `count_marked` looks for, in `tenant` only.
async fn mark_only_in(app: &TestApp, tenant: &app::tenancy::model::Tenant) {
    app.db
        .with_tenant(tenant, |conn| {
            Box::pin(async move {
                record(conn, &AuditSource::command_line(), AuditEvent::success(AuditAction::UserInvited, "only-in-a"))
                    .await
            })
        })
        .await
        .unwrap();
}

/// Counts tenant audit rows marked by the test, through the tenant scope.
async fn count_marked(app: &TestApp, tenant: &app::tenancy::model::Tenant) -> i64 {
    app.db
        .with_tenant(tenant, |conn| {
            Box::pin(async move {
                let c: Count = diesel::sql_query("SELECT count(*) AS n FROM audit_events WHERE target = 'only-in-a'")
                    .get_result(conn)
                    .await?;
                Ok::<_, AppError>(c.n)
            })
        })
        .await
        .unwrap()
}

/// One pooled connection serves tenant A, then tenant B, then no tenant: B never sees A's
/// rows, and outside `with_tenant` no tenant table resolves at all.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_used_for_one_tenant_never_sees_another() {
    let app = TestApp::init().pool_size(1).start().await;
    let a = app.tenant().await;
    let b = app.tenant().await;

    mark_only_in(&app, &a.tenant).await;

    assert_eq!(count_marked(&app, &b.tenant).await, 0, "tenant B sees none of A's rows");
    assert_eq!(count_marked(&app, &a.tenant).await, 1);

    let unscoped = app
        .db
        .with_control(|conn| {
            Box::pin(async move {
                let c: Count = diesel::sql_query("SELECT count(*) AS n FROM audit_events").get_result(conn).await?;
                Ok::<_, AppError>(c.n)
            })
        })
        .await;
    let error = unscoped.expect_err("no tenant table is visible outside with_tenant").to_string();
    assert!(error.contains("Something went wrong"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_level_search_path_does_not_survive_a_checkout() {
    let app = TestApp::init().pool_size(1).start().await;
    let a = app.tenant().await;
    let sql = format!("SET search_path TO {}", a.tenant.schema.as_str());
    app.db
        .with_control(move |conn| {
            Box::pin(async move {
                diesel::sql_query(sql).execute(conn).await?;
                Ok::<_, AppError>(())
            })
        })
        .await
        .unwrap();
    let after = app
        .db
        .with_control(|conn| {
            Box::pin(async move {
                let c: Count = diesel::sql_query("SELECT count(*) AS n FROM audit_events").get_result(conn).await?;
                Ok::<_, AppError>(c.n)
            })
        })
        .await;
    assert!(after.is_err(), "the recycled connection still had tenant {} on its path", a.tenant.slug);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_events_are_append_only() {
    let app = TestApp::new().await;
    let a = app.tenant().await;
    let tampered = app
        .db
        .with_tenant(&a.tenant, |conn| {
            Box::pin(async move {
                diesel::sql_query("DELETE FROM audit_events").execute(conn).await?;
                Ok::<_, AppError>(())
            })
        })
        .await;
    assert!(tampered.is_err());
    assert!(!app.audit_actions(&a.tenant).await.is_empty());
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// Every pooled connection carries the time budgets: a runaway statement or a transaction left
/// open by a request that went away cannot hold a connection for long.
#[tokio::test(flavor = "multi_thread")]
async fn pooled_connections_carry_statement_and_idle_transaction_budgets() {
    let app = TestApp::init().pool_size(1).start().await;
    let t = app.tenant().await;
    let settings = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                let mut values = Vec::new();
                for name in ["statement_timeout", "idle_in_transaction_session_timeout"] {
                    let s: Setting = diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
                        .get_result(conn)
                        .await?;
                    values.push(s.value);
                }
                Ok::<_, AppError>(values)
            })
        })
        .await
        .unwrap();
    assert_eq!(settings, ["30s", "30s"]);
}

/// A count of marked rows and the backend that counted them.
#[derive(QueryableByName)]
struct Marked {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    backend: i32,
}

/// `read_tenant` sends its BEGIN and COMMIT without waiting for them. On one pooled
/// connection (the same backend throughout), reads of A, B and A again each see their own
/// tenant only, and the next transaction finds the connection outside the reads' read-only
/// transactions. A read that fails or tries to write gets an error, and its connection is
/// not reused.
#[tokio::test(flavor = "multi_thread")]
async fn pipelined_reads_leave_their_connection_as_they_found_it() {
    let app = TestApp::init().start().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    mark_only_in(&app, &a.tenant).await;
    // A pool of its own: the app's background workers share `app.db`, and one of them closing
    // its connection after a failed read (another test dropped the tenant it was reading)
    // would replace the backend this test follows.
    let db = Database::connect(&env("DATABASE_URL"), 1).expect("pool");
    let read_marked = |tenant| {
        db.read_tenant(tenant, |mut conn| {
            Box::pin(async move {
                let m: Marked = diesel::sql_query(
                    "SELECT count(*) AS n, pg_backend_pid() AS backend FROM audit_events WHERE target = 'only-in-a'",
                )
                .get_result(&mut conn)
                .await?;
                Ok::<_, AppError>((m.n, m.backend))
            })
        })
    };
    let (in_a, backend) = read_marked(&a.tenant).await.unwrap();
    assert_eq!(in_a, 1);
    assert_eq!(read_marked(&b.tenant).await.unwrap(), (0, backend), "tenant B sees none of A's rows");
    assert_eq!(read_marked(&a.tenant).await.unwrap(), (1, backend));
    let after = db
        .with_control(|conn| {
            Box::pin(async move {
                let s: Marked = diesel::sql_query(
                    "SELECT (current_setting('transaction_read_only') = 'on')::int::int8 AS n, pg_backend_pid() AS backend",
                )
                .get_result(conn)
                .await?;
                Ok::<_, AppError>((s.n, s.backend))
            })
        })
        .await
        .unwrap();
    assert_eq!(after, (0, backend), "the reads' transactions ended before the connection was used again");

    let failed = db
        .read_tenant(&a.tenant, |mut conn| {
            Box::pin(async move {
                diesel::sql_query("SELECT * FROM no_such_table").execute(&mut conn).await?;
                Ok::<_, AppError>(())
            })
        })
        .await;
    assert!(failed.is_err());
    let written = db
        .read_tenant(&a.tenant, |mut conn| {
            Box::pin(async move {
                diesel::sql_query("DELETE FROM catalog_state").execute(&mut conn).await?;
                Ok::<_, AppError>(())
            })
        })
        .await;
    assert!(written.is_err(), "a read cannot write");
    let (in_a, after_failures) = read_marked(&a.tenant).await.unwrap();
    assert_eq!(in_a, 1);
    assert_ne!(after_failures, backend, "a connection whose read failed is closed, not pooled");
}
