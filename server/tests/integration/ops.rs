use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::support::{TestApp, METRICS_TOKEN};

#[tokio::test(flavor = "multi_thread")]
async fn health_endpoints_answer_on_any_host() {
    let app = TestApp::new().await;
    for path in ["/api/health", "/api/health/database"] {
        let response = app.get("localhost", path, None).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert!(response.body.contains("\"ok\""));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_by_route_template() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    app.get(&t.host, "/login", None).await;
    let scrape = |token: &str| {
        Request::get("/metrics")
            .header(header::HOST, &t.host)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    // Every tenant's traffic is in there: only the operator's scraper may read it.
    assert_eq!(app.get(&t.host, "/metrics", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(scrape("guess")).await.status, StatusCode::UNAUTHORIZED);
    let response = app.send(scrape(METRICS_TOKEN)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response.body.contains(r#"http_requests_total{method="GET",route="/login",status_code="200"}"#),
        "{}",
        response.body
    );
    assert!(response.body.contains(r#"http_request_duration_seconds_count{method="GET",route="/login"}"#));
    assert!(response.headers.contains_key("x-request-id"));
}
