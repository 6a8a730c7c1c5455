use axum::http::StatusCode;

use crate::support::TestApp;
use app::audit::service::AuditSource;
use app::catalog::service::{save_one, SaveTarget};
use app::tenancy::model::{TenantSlug, TenantStatus};
use app::tenancy::service as tenancy;

#[tokio::test(flavor = "multi_thread")]
async fn provisioning_gives_each_tenant_its_own_migrated_schema_and_admin() {
    let app = TestApp::new().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    assert_ne!(a.tenant.schema, b.tenant.schema);
    assert_eq!(a.tenant.schema.as_str(), format!("tenant_{}", a.tenant.id.0));

    let listed = tenancy::list(&app.db).await.unwrap();
    assert!(listed.iter().any(|t| t.slug == a.tenant.slug));
    assert!(listed.iter().any(|t| t.slug == b.tenant.slug));
    for t in [&a, &b] {
        let actions = app.audit_actions(&t.tenant).await;
        assert!(actions
            .iter()
            .any(|(action, target, _)| action == "tenant.provisioned" && target == t.tenant.slug.as_str()));
        assert!(actions.iter().any(|(action, target, _)| action == "user.invited" && *target == t.admin_email));
    }
    // Migrating again is a no-op for these schemas (other tests may be provisioning theirs
    // meanwhile, half-way through their own migrations).
    let again = tenancy::migrate_all(&app.db).await.unwrap();
    let ours = again.iter().filter(|(t, _)| t.id == a.tenant.id || t.id == b.tenant.id);
    assert!(ours.clone().count() == 2 && ours.into_iter().all(|(_, applied)| *applied == 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_or_malformed_slug_is_refused_without_leaving_a_schema() {
    let app = TestApp::new().await;
    let a = app.tenant().await;
    let again = tenancy::provision(&app.db, a.tenant.slug.as_str(), "Again", "x@example.com", "X").await;
    assert!(matches!(again, Err(app::error::AppError::Conflict(_))), "{again:?}");
    let bad = tenancy::provision(&app.db, "Bad Slug!", "Bad", "x@example.com", "X").await;
    assert!(matches!(bad, Err(app::error::AppError::Invalid(_))), "{bad:?}");
    let bad_email = tenancy::provision(&app.db, "tvalidslugbademail", "Bad", "not-an-email", "X").await;
    assert!(matches!(bad_email, Err(app::error::AppError::Invalid(_))), "{bad_email:?}");
    assert!(tenancy::find(&app.db, &TenantSlug::parse("tvalidslugbademail").unwrap()).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_bare_hosts_get_a_404_page() {
    let app = TestApp::new().await;
    for host in ["nosuchtenant.localhost", "localhost", "acme.example.org"] {
        let response = app.get(host, "/login", None).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{host}");
        assert!(response.body.contains("No portal here"), "{host}: {}", response.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suspended_tenant_gets_a_403_page_until_resumed() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    tenancy::set_status(&app.db, &t.tenant.slug, TenantStatus::Suspended).await.unwrap();
    let response = app.get(&t.host, "/login", None).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(response.body.contains("suspended"));
    let api =
        app.call(&t.host, "/api/auth/login", &[("email", &t.admin_email), ("password", &t.admin_password)], None).await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);

    tenancy::set_status(&app.db, &t.tenant.slug, TenantStatus::Active).await.unwrap();
    assert_eq!(app.get(&t.host, "/login", None).await.status, StatusCode::OK);
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.iter().any(|(a, _, _)| a == "tenant.suspended"));
    assert!(actions.iter().any(|(a, _, _)| a == "tenant.resumed"));
}

/// Each server keeps the tenant rows it serves in memory; a change made through another
/// server (or the CLI) reaches it through PostgreSQL's announcement, not after a timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_change_on_one_server_reaches_the_cache_of_another() {
    let serving = TestApp::new().await;
    let operator = TestApp::new().await;
    let t = serving.tenant().await;
    // Wait until the serving instance listens: a catalog write it hears proves it.
    let mut heard = serving.state.events.subscribe(&t.tenant.schema);
    for attempt in 0.. {
        assert!(attempt < 100, "the serving instance never started listening");
        let yaml = format!("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: probe-{attempt}\nspec:\n  type: team\n  children: []\n");
        let (source, target) = (AuditSource::command_line(), SaveTarget::New);
        save_one(&operator.db, &t.tenant, &source, target, &yaml).await.unwrap();
        if tokio::time::timeout(std::time::Duration::from_millis(100), heard.recv()).await.is_ok() {
            break;
        }
    }
    // The announcement of the tenant's own creation may still arrive and evict the row a first
    // request cached: ask until it stays cached.
    for attempt in 0.. {
        assert!(attempt < 100, "the tenant's row never stayed in the cache");
        assert_eq!(serving.get(&t.host, "/login", None).await.status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if serving.db.tenants().get(t.tenant.slug.as_str()).is_some() {
            break;
        }
    }

    tenancy::set_status(&operator.db, &t.tenant.slug, TenantStatus::Suspended).await.unwrap();
    // Well within the cache's own lifetime: only the announcement can make this pass.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while serving.get(&t.host, "/login", None).await.status != StatusCode::FORBIDDEN {
        assert!(std::time::Instant::now() < deadline, "the announcement never reached the other server");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// In an absolute-form request line the authority names the tenant, whatever `Host` says
/// (RFC 9112 §3.2.2): one request cannot be about two tenants.
#[tokio::test(flavor = "multi_thread")]
async fn an_absolute_request_line_names_the_tenant_not_the_host_header() {
    use axum::body::Body;
    use axum::http::{header, Request};

    let app = TestApp::new().await;
    let t = app.tenant().await;
    let request = |uri: String| Request::get(uri).header(header::HOST, &t.host).body(Body::empty()).unwrap();
    let elsewhere = app.send(request("http://no-such-tenant.localhost/login".into())).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND, "the request line's host decides");
    let here = app.send(request(format!("http://{}/login", t.host))).await;
    assert_eq!(here.status, StatusCode::OK);
}
