//! Usage insights: what people and keys did shows up in the admins' charts and rankings, and
//! nobody else sees them.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::support::TestApp;
use app::auth::model::Role;
use app::insights::model::{UsageInsights, DAYS};

const INSIGHTS: &str = "/api/ui/audit/insights";

#[tokio::test(flavor = "multi_thread")]
async fn views_empty_searches_sign_ins_and_key_calls_are_counted_for_admins_only() {
    let (app, t, admin) = TestApp::with_examples().await;
    let (_, viewer) = app.member(&t, &admin, &format!("reader@{}.example.com", t.tenant.slug), Role::Viewer).await;

    let entity = [("namespace", "default"), ("kind", "component"), ("name", "petstore")];
    for _ in 0..3 {
        let shown = app.call(&t.host, "/api/ui/catalog/entity", &entity, Some(&viewer)).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    }
    // A page that does not exist is no view.
    let missing = [("namespace", "default"), ("kind", "component"), ("name", "nope")];
    assert_eq!(
        app.call(&t.host, "/api/ui/catalog/entity", &missing, Some(&viewer)).await.status,
        StatusCode::NOT_FOUND
    );
    let search = |q: &'static str| [("view[q]", q), ("view[desc]", "false"), ("view[page]", "1")];
    for q in ["kubernetes-operator-xyz", "kubernetes-operator-xyz", "petstore"] {
        let listed = app.call(&t.host, "/api/ui/catalog/list", &search(q), Some(&viewer)).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    }
    let (_, secret) = app.create_key(&t, &admin, "deploy bot", &["catalog:read"]).await;
    for path in ["/api/catalog/entities?limit=1", "/api/catalog/entities/by-name/component/default/nope"] {
        let request = Request::get(path)
            .header(header::HOST, &t.host)
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .body(Body::empty())
            .unwrap();
        app.send(request).await;
    }
    app.state.usage.flush().await;
    app.state.access_log.flush().await;

    let refused = app.call(&t.host, INSIGHTS, &[], Some(&viewer)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let insights: UsageInsights = app.call(&t.host, INSIGHTS, &[], Some(&admin)).await.json();

    assert_eq!(insights.most_viewed.len(), 1, "{:?}", insights.most_viewed);
    assert_eq!(
        (insights.most_viewed[0].name.as_str(), insights.most_viewed[0].count),
        ("component:default/petstore", 3)
    );
    assert_eq!(insights.most_viewed[0].href.as_deref(), Some("/catalog/default/component/petstore"));
    assert_eq!(insights.empty_searches.len(), 1, "a search with results is not listed: {:?}", insights.empty_searches);
    assert_eq!(
        (insights.empty_searches[0].name.as_str(), insights.empty_searches[0].count),
        ("kubernetes-operator-xyz", 2)
    );
    let bot = &insights.api_callers[0];
    assert!(bot.name.starts_with("deploy bot (bcn_"), "{bot:?}");
    assert_eq!((bot.count, bot.failed), (2, 1));

    // Today is the last slot: the admin and the viewer signed in with passwords, and both
    // were active (the key counts for the admin too).
    assert_eq!(insights.active_daily.values.len(), DAYS);
    assert_eq!(insights.active_daily.values.last(), Some(&2));
    assert_eq!(insights.active_weekly.values.last(), Some(&2));
    let password = &insights.sign_ins[0];
    assert_eq!(password.values.last(), Some(&2), "{password:?}");
    assert_eq!(insights.sign_ins[1].total(), 0, "no single sign-on here");
    assert_eq!(insights.sign_ins[2].values.last(), Some(&1), "one key in use today");

    // The page draws it all on the server.
    let page = app.get(&t.host, "/audit/insights", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Usage insights") && page.body.contains("<svg"), "{}", page.body);
    assert!(page.body.contains("kubernetes-operator-xyz"));
    assert_eq!(app.get(&t.host, "/audit/insights", Some(&viewer)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_counter_writes_what_is_waiting() {
    let (app, t, admin) = TestApp::with_examples().await;
    let entity = [("namespace", "default"), ("kind", "component"), ("name", "petstore")];
    app.call(&t.host, "/api/ui/catalog/entity", &entity, Some(&admin)).await;
    app.state.usage.close().await;
    let insights: UsageInsights = app.call(&t.host, INSIGHTS, &[], Some(&admin)).await.json();
    assert_eq!(insights.most_viewed.first().map(|r| r.count), Some(1));
}
