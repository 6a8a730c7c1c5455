//! Machine access end to end through the router: API keys, OAuth client credentials, the
//! permission API, CSRF refusals and rate limits.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{TestApp, TestResponse};
use app::access::model::AccessOverview;
use app::auth::model::Role;

const OVERVIEW: &str = "/api/access/overview";
const CREATE_KEY: &str = "/api/access/keys/create";
const REVOKE_KEY: &str = "/api/access/keys/revoke";
const CREATE_CLIENT: &str = "/api/access/clients/create";
const REVOKE_CLIENT: &str = "/api/access/clients/revoke";

/// A request authenticated by a header credential instead of a cookie.
async fn with_credential(
    app: &TestApp,
    host: &str,
    method: &str,
    path: &str,
    header_name: &str,
    value: &str,
    body: Option<Value>,
) -> TestResponse {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .header(header_name, value)
        .header(
            header::CONTENT_TYPE,
            if body.is_some() { "application/json" } else { "application/x-www-form-urlencoded" },
        )
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    app.send(request).await
}

fn entity(name: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Resource",
        "metadata": { "name": name },
        "spec": { "type": "database", "owner": "team-a" }
    })
}

fn actions(audit: &[(String, String, String)], action: &str) -> Vec<(String, String)> {
    audit.iter().filter(|(a, _, _)| a == action).map(|(_, target, outcome)| (target.clone(), outcome.clone())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_act_as_their_owner_within_their_scopes_until_revoked_or_expired() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let (key_id, key) = app.create_key(&t, &admin, "ci reader", &["catalog:read"]).await;
    assert!(key.starts_with("bcn_"));

    // Shown once: the next load has no secret, and the listing never carries it.
    let overview: AccessOverview = app.call(&t.host, OVERVIEW, &[], Some(&admin)).await.json();
    assert!(overview.revealed.is_none());
    assert!(!serde_json::to_string(&overview).unwrap().contains(&key[17..]));

    let bearer = format!("Bearer {key}");
    let read = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "authorization", &bearer, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let read = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "x-api-key", &key, None).await;
    assert_eq!(read.status, StatusCode::OK);

    // Scope enforcement: catalog:read cannot write, and keys never manage access.
    let write =
        with_credential(&app, &t.host, "POST", "/api/catalog/entities", "x-api-key", &key, Some(entity("db-1"))).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{}", write.body);
    let manage = with_credential(&app, &t.host, "POST", OVERVIEW, "x-api-key", &key, None).await;
    assert_eq!(manage.status, StatusCode::FORBIDDEN);

    // The key belongs to its tenant: on another tenant's host it does not exist.
    let foreign = with_credential(&app, &other.host, "GET", "/api/catalog/entities", "x-api-key", &key, None).await;
    assert_eq!(foreign.status, StatusCode::UNAUTHORIZED);
    assert_eq!(foreign.headers[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");

    // A wrong secret with a real prefix is refused and audited.
    let mut tampered = key.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    let refused = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "x-api-key", &tampered, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // A write key of a developer writes as that developer.
    let dev_email = format!("dev@{}.example.com", t.tenant.slug);
    let (_, developer) = app.member(&t, &admin, &dev_email, Role::Developer).await;
    let (_, writer) = app.create_key(&t, &developer, "ci writer", &["catalog:read", "catalog:write"]).await;
    let write =
        with_credential(&app, &t.host, "POST", "/api/catalog/entities", "x-api-key", &writer, Some(entity("db-1")))
            .await;
    assert_eq!(write.status, StatusCode::CREATED, "{}", write.body);
    // A developer cannot mint a key with a scope their role cannot use.
    let refused = app
        .call(
            &t.host,
            CREATE_KEY,
            &[("name", "too much"), ("expires_in_days", "30"), ("scopes[0]", "catalog:admin")],
            Some(&developer),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    // ... and cannot see or revoke the admin's key.
    let listed: AccessOverview = app.call(&t.host, OVERVIEW, &[], Some(&developer)).await.json();
    assert!(listed.keys.iter().all(|k| k.owner_email == dev_email));
    assert!(listed.clients.is_none());
    let revoke = app.call(&t.host, REVOKE_KEY, &[("id", &key_id)], Some(&developer)).await;
    assert_eq!(revoke.status, StatusCode::NOT_FOUND);

    // Last use is recorded with the caller's address.
    let overview: AccessOverview = app.call(&t.host, OVERVIEW, &[], Some(&admin)).await.json();
    let listed = overview.keys.iter().find(|k| k.name == "ci reader").unwrap();
    assert!(listed.last_used_at.is_some());
    assert_eq!(listed.last_used_ip.as_deref(), Some(app.client_ip.ip().to_string().as_str()));

    // Revoked keys stop working at once.
    let revoke = app.call(&t.host, REVOKE_KEY, &[("id", &key_id)], Some(&admin)).await;
    assert!(revoke.status.is_success(), "{}", revoke.body);
    let after = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "x-api-key", &key, None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    // Expired keys too.
    let (_, expiring) = app.create_key(&t, &admin, "short lived", &["catalog:read"]).await;
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                diesel::sql_query(
                    "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE name = 'short lived'",
                )
                .execute(conn)
                .await
                .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
    let expired = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "x-api-key", &expiring, None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);

    let audit = app.audit_actions(&t.tenant).await;
    assert_eq!(actions(&audit, "apikey.created").len(), 3);
    assert_eq!(actions(&audit, "apikey.first_used").len(), 2, "{audit:?}");
    assert_eq!(actions(&audit, "apikey.revoked").len(), 1);
    assert_eq!(actions(&audit, "apikey.rejected").len(), 3, "wrong secret, revoked, expired: {audit:?}");
    assert!(app.audit_actions(&other.tenant).await.iter().all(|(a, _, _)| !a.starts_with("apikey")));
}

async fn token_request(app: &TestApp, host: &str, basic: Option<(&str, &str)>, form: &str) -> TestResponse {
    let mut request = Request::post("/oauth/token")
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        request = request.header(header::AUTHORIZATION, format!("Basic {encoded}"));
    }
    app.send(request.body(Body::from(form.to_owned())).unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_issue_short_lived_scoped_tokens_for_one_tenant() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let created = app
        .call(
            &t.host,
            CREATE_CLIENT,
            &[
                ("name", "deployer"),
                ("role", "developer"),
                ("scopes[0]", "catalog:read"),
                ("scopes[1]", "catalog:write"),
            ],
            Some(&admin),
        )
        .await;
    assert!(created.status.is_success(), "{}", created.body);
    let overview: AccessOverview = app.call(&t.host, OVERVIEW, &[], Some(&admin)).await.json();
    let revealed = overview.revealed.unwrap();
    let (client_id, secret) = (revealed.label, revealed.secret);
    let row_id = overview.clients.unwrap()[0].id.to_string();

    // Standard errors (RFC 6749 §5.2).
    let wrong =
        token_request(&app, &t.host, Some((&client_id, "not-the-secret")), "grant_type=client_credentials").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json::<Value>()["error"], "invalid_client");
    let grant = token_request(&app, &t.host, Some((&client_id, &secret)), "grant_type=password").await;
    assert_eq!(grant.json::<Value>()["error"], "unsupported_grant_type");
    let scope =
        token_request(&app, &t.host, Some((&client_id, &secret)), "grant_type=client_credentials&scope=audit%3Aread")
            .await;
    assert_eq!(scope.status, StatusCode::BAD_REQUEST);
    assert_eq!(scope.json::<Value>()["error"], "invalid_scope");
    let nobody = token_request(&app, &t.host, None, "grant_type=client_credentials").await;
    assert_eq!(nobody.json::<Value>()["error"], "invalid_client");
    // The client exists only in its tenant.
    let elsewhere =
        token_request(&app, &other.host, Some((&client_id, &secret)), "grant_type=client_credentials").await;
    assert_eq!(elsewhere.json::<Value>()["error"], "invalid_client");

    // Secret in the form body works as well as Basic.
    let form = format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    let issued = token_request(&app, &t.host, None, &form).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert_eq!(issued.headers[header::CACHE_CONTROL], "no-store");
    let body: Value = issued.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "catalog:read catalog:write");
    let token = format!("Bearer {}", body["access_token"].as_str().unwrap());

    let write =
        with_credential(&app, &t.host, "POST", "/api/catalog/entities", "authorization", &token, Some(entity("db-2")))
            .await;
    assert_eq!(write.status, StatusCode::CREATED, "{}", write.body);
    // The token's audience is its tenant.
    let foreign =
        with_credential(&app, &other.host, "GET", "/api/catalog/entities", "authorization", &token, None).await;
    assert_eq!(foreign.status, StatusCode::UNAUTHORIZED);

    // A narrower token cannot write.
    let narrow =
        token_request(&app, &t.host, Some((&client_id, &secret)), "grant_type=client_credentials&scope=catalog%3Aread")
            .await;
    let narrow = format!("Bearer {}", narrow.json::<Value>()["access_token"].as_str().unwrap());
    let write =
        with_credential(&app, &t.host, "POST", "/api/catalog/entities", "authorization", &narrow, Some(entity("db-3")))
            .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);

    // The token's calls are logged under the client: the write, and the narrow token's refusal.
    app.state.access_log.flush().await;
    let overview: AccessOverview = app.call(&t.host, OVERVIEW, &[], Some(&admin)).await.json();
    let usage = &overview.clients.unwrap()[0].usage;
    assert_eq!((usage.total(), usage.failed()), (2, 1), "{usage:?}");

    // Revoking the client invalidates its outstanding tokens at once.
    let revoke = app.call(&t.host, REVOKE_CLIENT, &[("id", &row_id)], Some(&admin)).await;
    assert!(revoke.status.is_success());
    let after = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "authorization", &token, None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let again = token_request(&app, &t.host, Some((&client_id, &secret)), "grant_type=client_credentials").await;
    assert_eq!(again.json::<Value>()["error"], "invalid_client");

    let audit = app.audit_actions(&t.tenant).await;
    assert_eq!(actions(&audit, "oauth_client.created").len(), 1);
    let tokens = actions(&audit, "oauth.token");
    assert_eq!(tokens.iter().filter(|(_, outcome)| outcome == "success").count(), 2);
    let refused = tokens.iter().filter(|(_, outcome)| outcome == "failure").count();
    assert_eq!(refused, 3, "wrong secret, scope, revoked: {audit:?}");
    assert_eq!(actions(&audit, "oauth_client.revoked").len(), 1);
    // The write made with the token is audited like any other.
    assert_eq!(actions(&audit, "catalog.entities_imported"), vec![("editor".to_owned(), "success".to_owned())]);

    // Clients are for admins to manage.
    let dev_email = format!("dev@{}.example.com", t.tenant.slug);
    let (_, developer) = app.member(&t, &admin, &dev_email, Role::Developer).await;
    let refused = app
        .call(
            &t.host,
            CREATE_CLIENT,
            &[("name", "x"), ("role", "viewer"), ("scopes[0]", "catalog:read")],
            Some(&developer),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_permission_api_answers_with_the_enforced_rules() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let viewer_email = format!("val@{}.example.com", t.tenant.slug);
    let (viewer_id, viewer) = app.member(&t, &admin, &viewer_email, Role::Viewer).await;
    let check = |cookie: String, body: Value| {
        let app = &app;
        let t = &t;
        async move { app.post_json(t, &cookie, "/api/permissions/check", body).await }
    };

    let (status, roles, _) = app.get_json(&t, &viewer, "/api/permissions/roles").await;
    assert_eq!(status, StatusCode::OK);
    let viewer_actions = roles["roles"].as_array().unwrap().iter().find(|r| r["role"] == "viewer").unwrap();
    assert_eq!(
        viewer_actions["actions"],
        json!(["catalog.read", "finops.read", "briefs.read", "plugins.read", "account.manage_own"])
    );

    let (status, answer) = check(viewer.clone(), json!({ "action": "catalog.write" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["result"], "DENY");
    assert_eq!(answer["principal"]["role"], "viewer");
    let (_, answer) = check(admin.clone(), json!({ "action": "catalog.write", "principal": viewer_id })).await;
    assert_eq!(answer["result"], "DENY");
    let (_, answer) = check(admin.clone(), json!({ "action": "catalog.read", "principal": viewer_email })).await;
    assert_eq!(answer["result"], "ALLOW");

    // Only admins ask about others; unknown actions, members and resources are clear errors.
    let (status, _) = check(viewer.clone(), json!({ "action": "catalog.read", "principal": t.admin_email })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = check(admin.clone(), json!({ "action": "everything" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) =
        check(admin.clone(), json!({ "action": "catalog.read", "principal": "nobody@example.com" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        check(admin.clone(), json!({ "action": "catalog.read", "resource": "component:default/none" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A key answers for itself with its scopes.
    let (_, key) = app.create_key(&t, &admin, "reader", &["catalog:read"]).await;
    let asked = with_credential(
        &app,
        &t.host,
        "POST",
        "/api/permissions/check",
        "x-api-key",
        &key,
        Some(json!({ "action": "catalog.write" })),
    )
    .await;
    let answer: Value = asked.json();
    assert_eq!(answer["result"], "DENY");
    assert_eq!(answer["reason"], "the credential lacks the scope this action needs");
    assert_eq!(answer["principal"]["credential"], "api_key");

    let anonymous = app
        .send(Request::post("/api/permissions/check").header(header::HOST, &t.host).body(Body::from("{}")).unwrap())
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_state_changes_are_refused_and_audited() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let post = |extra: Vec<(&'static str, String)>| {
        let mut request = Request::post("/api/settings/users/invite")
            .header(header::HOST, &t.host)
            .header(header::COOKIE, &admin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        for (name, value) in extra {
            request = request.header(name, value);
        }
        request.body(Body::from("email=eve%40evil.example&display_name=Eve&role=admin")).unwrap()
    };
    let cross_site = app.send(post(vec![("sec-fetch-site", "cross-site".into())])).await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let other_origin = app.send(post(vec![("origin", "http://evil.example".into())])).await;
    assert_eq!(other_origin.status, StatusCode::FORBIDDEN);
    let other_port = app.send(post(vec![("origin", format!("http://{}:4000", t.host))])).await;
    assert_eq!(other_port.status, StatusCode::FORBIDDEN);
    let same_origin =
        app.send(post(vec![("sec-fetch-site", "same-origin".into()), ("origin", format!("http://{}", t.host))])).await;
    assert!(same_origin.status.is_success(), "{}", same_origin.body);

    let audit = app.audit_actions(&t.tenant).await;
    assert_eq!(actions(&audit, "csrf.refused").len(), 3);
    let invited: Vec<_> =
        actions(&audit, "user.invited").into_iter().filter(|(target, _)| target.starts_with("eve@")).collect();
    assert_eq!(invited.len(), 1, "only the same-origin post went through");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_follow_the_tier_and_answer_429_with_headers() {
    let app = TestApp::new().await;
    let t = app.tenant().await;

    // Anonymous: 100 a minute per address. If the one-minute window rolls over during a
    // burst, the burst is repeated in the fresh window.
    let mut limited = None;
    for _burst in 0..2 {
        for _ in 0..101 {
            let response = app.get(&t.host, "/login", None).await;
            if response.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(response);
                break;
            }
            assert_eq!(response.headers["ratelimit-limit"], "100");
        }
        if limited.is_some() {
            break;
        }
    }
    let limited = limited.expect("the 101st anonymous request in a minute is refused");
    assert_eq!(limited.headers["ratelimit-remaining"], "0");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // A browser gets a page it can show (a form posted without JavaScript lands there), a
    // script the error as JSON.
    assert!(limited.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(limited.body.contains("Too many requests. Try again in"), "{}", limited.body);
    let scripted = app.call(&t.host, "/api/auth/login", &[("email", "a@b.example"), ("password", "x")], None).await;
    assert_eq!(scripted.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        scripted.json::<Value>()["RateLimited"].as_str().map(|m| m.starts_with("Too many requests")),
        Some(true)
    );

    // Another client address has its own budget; signed-in admins are counted, not limited.
    let elsewhere = TestApp::new().await;
    let admin = elsewhere.login(&t.host, &t.admin_email, &t.admin_password).await;
    let page = elsewhere.get(&t.host, "/catalog", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.headers.contains_key("ratelimit-limit"));

    // Keys get the authenticated tier, enterprise tenants the enterprise one.
    let (_, key) = elsewhere.create_key(&t, &admin, "limits", &["catalog:read"]).await;
    let read = with_credential(&elsewhere, &t.host, "GET", "/api/permissions/roles", "x-api-key", &key, None).await;
    assert_eq!(read.headers["ratelimit-limit"], "1000");
    // The plan changes through another instance: this one hears of it by NOTIFY, a moment later.
    app::tenancy::service::set_plan(&app.db, &t.tenant.slug, app::tenancy::model::Plan::Enterprise).await.unwrap();
    let mut limit = String::new();
    for _ in 0..50 {
        let read = with_credential(&elsewhere, &t.host, "GET", "/api/permissions/roles", "x-api-key", &key, None).await;
        limit = read.headers["ratelimit-limit"].to_str().unwrap().to_owned();
        if limit == "10000" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(limit, "10000", "the enterprise tier applies within five seconds");
}

/// Each instance counts a caller's requests on its own between syncs through Redis: a second
/// instance starts from what Redis holds, and each learns what the other has sent when it
/// next sends its own counts, a moment later.
#[tokio::test(flavor = "multi_thread")]
async fn instances_share_rate_limit_counts_through_redis() {
    use server::middleware::rate_limit::{count_key, Counters};

    let app = TestApp::new().await;
    let redis = app.redis();
    let remaining = |quota: server::middleware::rate_limit::Quota| {
        let mut headers = axum::http::HeaderMap::new();
        quota.write_headers(&mut headers);
        let number = |name: &str| headers[name].to_str().unwrap().parse::<u64>().unwrap();
        (number("ratelimit-remaining"), number("ratelimit-reset"))
    };
    // The counts below hold within one window: start well inside one.
    let probe = format!("rl:probe:{}", uuid::Uuid::new_v4());
    let (_, reset_in) = remaining(count_key(&redis, &Counters::default(), Some(100), &probe).await);
    if reset_in < 5 {
        tokio::time::sleep(std::time::Duration::from_secs(reset_in + 1)).await;
    }
    // A sync is due 100 ms after a request; the wait leaves it time to be answered on a busy machine.
    let synced = || tokio::time::sleep(std::time::Duration::from_millis(500));
    let caller = format!("rl:test:{}", uuid::Uuid::new_v4());
    let (a, b) = (Counters::default(), Counters::default());
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(remaining(count_key(&redis, &a, Some(100), &caller).await).0);
    }
    assert_eq!(seen, [99, 98, 97, 96, 95], "one instance counts exactly");
    synced().await;
    // B's first request asks Redis, which has A's five.
    assert_eq!(remaining(count_key(&redis, &b, Some(100), &caller).await).0, 94);
    assert_eq!(remaining(count_key(&redis, &b, Some(100), &caller).await).0, 93);
    synced().await;
    // B has sent its second request, but A only hears what Redis holds when it next sends its
    // own: its sixth request counts on what it knew, and its seventh on what its sync answered
    // (A's six and B's two).
    assert_eq!(remaining(count_key(&redis, &a, Some(100), &caller).await).0, 94);
    synced().await;
    assert_eq!(remaining(count_key(&redis, &a, Some(100), &caller).await).0, 91);
    // Over the limit is refused wherever it is counted.
    let small = format!("rl:test:{}", uuid::Uuid::new_v4());
    for _ in 0..3 {
        assert!(!count_key(&redis, &a, Some(3), &small).await.exceeded());
    }
    synced().await;
    assert!(count_key(&redis, &b, Some(3), &small).await.exceeded());
    assert!(count_key(&redis, &a, Some(3), &small).await.exceeded());
}

/// `server tenant create-key`: the key works at once with exactly its scopes, acts as the
/// tenant's admin (or the named member), and the audit log says the command line made it.
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_makes_a_key_on_the_command_line() {
    use app::access::service::{create_key_as_operator, NewKey};

    let app = TestApp::new().await;
    let t = app.tenant().await;
    let new = NewKey::parse("ci", &["catalog:read".to_owned()], "90").unwrap();
    let (owner, key) = create_key_as_operator(&app.db, &t.tenant, None, new).await.unwrap();
    assert_eq!((owner.email.as_str(), owner.role), (t.admin_email.as_str(), Role::Admin));

    let bearer = format!("Bearer {}", key.secret);
    let read = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "authorization", &bearer, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let entity = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "System",
        "metadata": { "name": "shop" }, "spec": { "owner": "team-a" } });
    let write =
        with_credential(&app, &t.host, "POST", "/api/catalog/entities", "authorization", &bearer, Some(entity)).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "the key has no catalog:write scope");

    let audit = app.audit_actions(&t.tenant).await;
    assert!(audit.iter().any(|(action, _, outcome)| action == "apikey.created" && outcome == "success"), "{audit:?}");

    let nobody = NewKey::parse("ci", &["catalog:read".to_owned()], "").unwrap();
    let refused = create_key_as_operator(&app.db, &t.tenant, Some("nobody@example.com"), nobody).await;
    assert!(matches!(refused, Err(app::error::AppError::NotFound(_))), "an unknown owner is refused");
}

async fn reads_catalog(app: &TestApp, host: &str, key: &str) -> StatusCode {
    with_credential(app, host, "GET", "/api/catalog/entities", "x-api-key", key, None).await.status
}

/// The status once it stops being 200, or 200 after 5 s (another server hears of a change
/// when PostgreSQL's announcement reaches its listener, within milliseconds).
async fn refused_soon(app: &TestApp, host: &str, key: &str) -> StatusCode {
    for _ in 0..100 {
        let status = reads_catalog(app, host, key).await;
        if status != StatusCode::OK {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    StatusCode::OK
}

/// Verified keys are remembered per server for seconds, but never past a change: revoking a
/// key or deactivating its owner refuses it on the next request, on this server at once and on
/// another server (its own app and memory, same database) once PostgreSQL announces it.
#[tokio::test(flavor = "multi_thread")]
async fn a_remembered_key_stops_working_everywhere_when_revoked_or_its_owner_deactivated() {
    let app = TestApp::new().await;
    let other_server = TestApp::new().await;
    let t = app.tenant().await;
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let (key_id, key) = app.create_key(&t, &admin, "remembered", &["catalog:read"]).await;
    for server in [&app, &other_server, &app, &other_server] {
        assert_eq!(reads_catalog(server, &t.host, &key).await, StatusCode::OK);
    }
    let revoked = app.call(&t.host, REVOKE_KEY, &[("id", &key_id)], Some(&admin)).await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    assert_eq!(reads_catalog(&app, &t.host, &key).await, StatusCode::UNAUTHORIZED, "at once where it was revoked");
    assert_eq!(refused_soon(&other_server, &t.host, &key).await, StatusCode::UNAUTHORIZED);

    let email = format!("ci@{}.example.com", t.tenant.slug);
    let (member_id, member) = app.member(&t, &admin, &email, Role::Developer).await;
    let (_, key) = app.create_key(&t, &member, "owner leaves", &["catalog:read"]).await;
    for server in [&app, &other_server] {
        assert_eq!(reads_catalog(server, &t.host, &key).await, StatusCode::OK);
    }
    let deactivated =
        app.call(&t.host, "/api/settings/users/deactivate", &[("user_id", &member_id)], Some(&admin)).await;
    assert!(deactivated.status.is_success(), "{}", deactivated.body);
    assert_eq!(reads_catalog(&app, &t.host, &key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refused_soon(&other_server, &t.host, &key).await, StatusCode::UNAUTHORIZED);
}

/// A row of the tenant's API access log.
#[derive(Debug, diesel::Queryable)]
struct Logged {
    api_key_id: Option<uuid::Uuid>,
    oauth_client_id: Option<String>,
    route: String,
    path: String,
    status: i16,
}

impl Logged {
    fn caller(&self) -> String {
        self.api_key_id.map_or_else(|| self.oauth_client_id.clone().unwrap_or_default(), |k| k.to_string())
    }
}

/// The tenant's API access log once the writer has written what is queued, oldest first.
async fn logged_requests(app: &TestApp, tenant: &app::tenancy::model::Tenant) -> Vec<Logged> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    app.state.access_log.flush().await;
    app.db
        .with_tenant(tenant, |conn| {
            Box::pin(async move {
                use app::db::schema::api_requests::dsl as r;
                r::api_requests
                    .order(r::id)
                    .select((r::api_key_id, r::oauth_client_id, r::route, r::path, r::status))
                    .load::<Logged>(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn key_requests_are_logged_by_the_writer_and_charted_per_key() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let (key_id, key) = app.create_key(&t, &admin, "dashboards", &["catalog:read"]).await;
    let (_, quiet) = app.create_key(&t, &admin, "unused", &["catalog:read"]).await;
    assert!(!quiet.is_empty());

    for _ in 0..20 {
        let read = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "x-api-key", &key, None).await;
        assert_eq!(read.status, StatusCode::OK);
    }
    for i in 0..5 {
        let path = format!("/api/catalog/entities/by-name/component/default/missing-{i}");
        let missing = with_credential(&app, &t.host, "GET", &path, "x-api-key", &key, None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
    let write =
        with_credential(&app, &t.host, "POST", "/api/catalog/entities", "x-api-key", &key, Some(entity("db-9"))).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    // Neither a browser session's requests nor the key presented to another tenant are in the log.
    app.get(&t.host, "/api/catalog/entities", Some(&admin)).await;
    let foreign = with_credential(&app, &other.host, "GET", "/api/catalog/entities", "x-api-key", &key, None).await;
    assert_eq!(foreign.status, StatusCode::UNAUTHORIZED);

    let logged = logged_requests(&app, &t.tenant).await;
    assert_eq!(logged.len(), 26, "{logged:?}");
    assert!(logged.iter().all(|r| r.caller() == key_id));
    let by_route = |route: &str, status: i16| logged.iter().filter(|r| r.route == route && r.status == status).count();
    assert_eq!(by_route("/api/catalog/entities", 200), 20);
    assert_eq!(by_route("/api/catalog/entities/by-name/{kind}/{namespace}/{name}", 404), 5);
    assert_eq!(by_route("/api/catalog/entities", 403), 1);
    assert!(logged.iter().any(|r| r.path == "/api/catalog/entities/by-name/component/default/missing-4"));
    assert!(logged_requests(&app, &other.tenant).await.is_empty());

    // Settings → API access shows each key's last 14 days, today last.
    let overview: AccessOverview = app.call(&t.host, OVERVIEW, &[], Some(&admin)).await.json();
    let used = overview.keys.iter().find(|k| k.name == "dashboards").unwrap();
    assert_eq!(used.usage.days.len(), 14);
    let today = used.usage.days.last().unwrap();
    assert_eq!(today.day, chrono::Utc::now().date_naive());
    assert_eq!((today.requests, today.failed), (26, 6));
    assert_eq!((used.usage.total(), used.usage.failed()), (26, 6));
    let unused = overview.keys.iter().find(|k| k.name == "unused").unwrap();
    assert_eq!(unused.usage.total(), 0);
    assert_eq!(unused.usage.days.len(), 14, "quiet days are zeros, not gaps");
    assert_eq!(app.state.access_log.dropped(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_access_log_writes_what_is_still_queued() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let (_, key) = app.create_key(&t, &admin, "burst", &["catalog:read"]).await;
    for _ in 0..50 {
        let read = with_credential(&app, &t.host, "GET", "/api/catalog/entities", "x-api-key", &key, None).await;
        assert_eq!(read.status, StatusCode::OK);
    }
    // What a graceful shutdown does once requests have drained: no call is lost.
    app.state.access_log.close().await;
    let written = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                app::db::schema::api_requests::table
                    .count()
                    .get_result::<i64>(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
    assert_eq!(written, 50);
    assert_eq!(app.state.access_log.dropped(), 0);
}
