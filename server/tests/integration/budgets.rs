//! Time budgets and isolation of slowness: a request that runs past its budget is answered 503
//! with `Retry-After`, its database work stops with it, and while such requests run the health
//! check and other tenants keep being served.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use http_body_util::BodyExt;
use tokio::time::{timeout, Instant};
use tower::ServiceExt;

use crate::support::{example_documents, TestApp};
use app::audit::service::AuditSource;
use app::catalog::service as catalog;
use app::error::AppError;
use app::state::{AppState, RequestContext};
use server::rest::ApiResult;

const BUDGET: Duration = Duration::from_secs(2);
/// Marks the test's statements in `pg_stat_activity`.
const SLOW_QUERY: &str = "SELECT pg_sleep(60) /* budget test */";

/// A deliberately slow request: one statement that would run a minute inside the tenant's
/// transaction, on the same path (`with_tenant`) as every real query.
async fn sleep_in_tenant(State(state): State<AppState>, Extension(ctx): Extension<RequestContext>) -> ApiResult<()> {
    state
        .db
        .with_tenant(&ctx.tenant, |conn| {
            Box::pin(async move {
                diesel::sql_query(SLOW_QUERY).execute(conn).await?;
                Ok::<_, AppError>(())
            })
        })
        .await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Sessions still running the slow statement or sitting in its transaction.
async fn lingering(app: &TestApp) -> i64 {
    let sql = "SELECT count(*) AS n FROM pg_stat_activity \
               WHERE query LIKE '%/* budget test */%' AND pid <> pg_backend_pid()";
    app.db
        .with_control(|conn| {
            Box::pin(async move { diesel::sql_query(sql).get_result::<Count>(conn).await.map_err(AppError::from) })
        })
        .await
        .expect("pg_stat_activity")
        .n
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_requests_stop_at_their_budget_and_never_slow_the_others() {
    let app = TestApp::init()
        .pool_size(8)
        .request_timeout(BUDGET)
        .tenant_routes(Router::new().route("/api/test/sleep", get(sleep_in_tenant)))
        .start()
        .await;
    let (noisy, noisy_cookie) = app.signed_in_tenant().await;
    let (quiet, quiet_cookie) = app.signed_in_tenant().await;
    catalog::import(
        &app.db,
        &quiet.tenant,
        &AuditSource::command_line(),
        &catalog::Origin::named("all.yaml"),
        example_documents("all.yaml").await,
    )
    .await
    .unwrap();

    let started = Instant::now();
    let sleepers: Vec<_> = (0..4)
        .map(|_| {
            let request = Request::get("/api/test/sleep")
                .header(header::HOST, &noisy.host)
                .header(header::COOKIE, &noisy_cookie)
                .extension(ConnectInfo(app.client_ip))
                .body(Body::empty())
                .unwrap();
            tokio::spawn(app.router.clone().oneshot(request))
        })
        .collect();

    // While the slow requests hold their connections, everyone else is answered promptly.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while started.elapsed() < BUDGET - Duration::from_millis(300) {
        let health = timeout(Duration::from_secs(1), app.get("localhost", "/api/health", None)).await;
        assert_eq!(health.expect("health answers while slow requests run").status, StatusCode::OK);
        let lookup = "/api/catalog/entities/by-name/component/default/petstore";
        let answer = timeout(Duration::from_secs(1), app.get_json(&quiet, &quiet_cookie, lookup)).await;
        assert_eq!(answer.expect("another tenant answers while slow requests run").0, StatusCode::OK);
    }

    for sleeper in sleepers {
        let response = sleeper.await.unwrap().unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            response.into_body().collect().await.unwrap().to_bytes()
        );
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }
    let answered = started.elapsed();
    assert!(answered < BUDGET + Duration::from_secs(1), "slow requests answered after {answered:?}");

    // The statements were cancelled and their transactions ended, not left to run their minute.
    let mut left = lingering(&app).await;
    let give_up = Instant::now() + Duration::from_secs(5);
    while left > 0 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = lingering(&app).await;
    }
    assert_eq!(left, 0, "slow statements still in PostgreSQL after their requests were answered");
}
