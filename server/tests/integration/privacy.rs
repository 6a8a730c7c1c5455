//! GDPR: a member's export of everything about them, and an admin's erasure of a member —
//! checked by scanning every table of the tenant's schema for the person's email and name, by
//! verifying the audit chain afterwards, and against a second tenant and a second member that
//! must keep all they had.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::support::{TestApp, TestTenant};
use app::audit::verify;
use app::auth::model::Role;
use app::error::AppError;
use app::settings::api::UsersView;

const EXPORT: &str = "/api/account/export";
const ERASE: &str = "/api/settings/users/erase";

/// Invites `email` under `name` and signs them in: (user id, session cookie).
pub async fn join(app: &TestApp, t: &TestTenant, admin: &str, email: &str, name: &str, role: Role) -> (String, String) {
    let form = [("email", email), ("display_name", name), ("role", role.as_str())];
    let invited = app.call(&t.host, "/api/settings/users/invite", &form, Some(admin)).await;
    assert!(invited.status.is_success(), "{} {}", invited.status, invited.body);
    let view: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(admin)).await.json();
    let id = view.members.iter().find(|m| m.email == email).expect("listed").user_id.to_string();
    let cookie = match view.invitation.and_then(|i| i.one_time_password) {
        Some(password) => app.login(&t.host, email, &password).await,
        // An account from another tenant: no cookie needed for these tests.
        None => String::new(),
    };
    (id, cookie)
}

async fn export(app: &TestApp, t: &TestTenant, cookie: &str) -> Value {
    let response = app.get(&t.host, EXPORT, Some(cookie)).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.headers[header::CACHE_CONTROL], "no-store");
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("the export is one JSON document ({e}): {}", response.body))
}

async fn key_call(app: &TestApp, t: &TestTenant, secret: &str) -> StatusCode {
    let request = Request::get("/api/catalog/entities?limit=1")
        .header(header::HOST, &t.host)
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .body(Body::empty())
        .unwrap();
    app.send(request).await.status
}

#[derive(diesel::QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    table_name: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every table of the tenant's schema with rows whose text contains any of `needles`, with
/// how many: the whole row is cast to text, so no column can hide a match.
pub async fn tables_naming(app: &TestApp, t: &TestTenant, needles: &[&str]) -> Vec<(String, i64)> {
    let patterns: Vec<String> = needles.iter().map(|n| format!("%{n}%")).collect();
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                let tables: Vec<TableName> = diesel::sql_query(
                    "SELECT table_name::text AS table_name FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .load(conn)
                .await?;
                assert!(tables.len() > 10, "the scan sees the tenant's tables");
                let mut found = Vec::new();
                for table in tables {
                    let count: Count = diesel::sql_query(format!(
                        "SELECT count(*) AS n FROM \"{}\" AS r WHERE r::text ILIKE ANY ($1)",
                        table.table_name
                    ))
                    .bind::<diesel::sql_types::Array<Text>, _>(&patterns)
                    .get_result(conn)
                    .await?;
                    if count.n > 0 {
                        found.push((table.table_name, count.n));
                    }
                }
                Ok::<_, AppError>(found)
            })
        })
        .await
        .unwrap()
}

async fn accounts_named(app: &TestApp, email: &str) -> i64 {
    let email = email.to_owned();
    let tenant = app.tenant().await.tenant;
    app.db
        .with_tenant(&tenant, move |conn| {
            Box::pin(async move {
                let count: Count = diesel::sql_query("SELECT count(*) AS n FROM control.users WHERE email = $1")
                    .bind::<Text, _>(email)
                    .get_result(conn)
                    .await?;
                Ok::<_, AppError>(count.n)
            })
        })
        .await
        .unwrap()
}

/// The audit events of an export, without those of exports (each export records one).
fn events_but_exports(document: &Value) -> Vec<Value> {
    document["audit_events"]
        .as_array()
        .expect("audit events")
        .iter()
        .filter(|e| e["action"] != "account.exported")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erased_member_is_gone_from_every_table_and_the_log_still_verifies() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let slug = t.tenant.slug.to_string();
    let erin = format!("erin.erasmus@{slug}.example.com");
    let name = "Erin Erasmus";
    let (erin_id, erin_cookie) = join(&app, &t, &admin, &erin, name, Role::Admin).await;
    let (_, finn_cookie) =
        join(&app, &t, &admin, &format!("finn@{slug}.example.com"), "Finn Other", Role::Viewer).await;
    // Erin also belongs to a second tenant, which must keep her.
    let (t2, admin2) = app.signed_in_tenant().await;
    let (_, _) = join(&app, &t2, &admin2, &erin, name, Role::Viewer).await;

    // Erin leaves traces everywhere she can: keys and their calls, an OAuth client, a fetch
    // host, a failed sign-in.
    let (_, secret) = app.create_key(&t, &erin_cookie, "Erin Erasmus's laptop", &["catalog:read"]).await;
    app.create_key(&t, &erin_cookie, "unused", &["catalog:read"]).await;
    for _ in 0..3 {
        assert_eq!(key_call(&app, &t, &secret).await, StatusCode::OK);
    }
    app.state.access_log.flush().await;
    let client = app
        .call(
            &t.host,
            "/api/access/clients/create",
            &[("name", "erin-ci"), ("role", "viewer"), ("scopes[0]", "catalog:read")],
            Some(&erin_cookie),
        )
        .await;
    assert!(client.status.is_success(), "{}", client.body);
    let host = app
        .call(&t.host, "/api/ui/catalog/allow-host", &[("pattern", "git.erin.example.com")], Some(&erin_cookie))
        .await;
    assert!(host.status.is_success(), "{}", host.body);
    // Someone looked her up in the catalog.
    let search = [("view[q]", erin.as_str()), ("view[desc]", "false"), ("view[page]", "1")];
    assert_eq!(app.call(&t.host, "/api/ui/catalog/list", &search, Some(&admin)).await.status, StatusCode::OK);
    app.state.usage.flush().await;
    let wrong = app.call(&t.host, "/api/auth/login", &[("email", &erin), ("password", "not her password")], None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // Her export holds all of it, as one JSON document.
    let mine = export(&app, &t, &erin_cookie).await;
    assert_eq!(mine["profile"]["email"], erin.as_str());
    assert_eq!(mine["profile"]["display_name"], name);
    assert_eq!(mine["membership"]["role"], "admin");
    assert_eq!(mine["api_keys"].as_array().unwrap().len(), 2);
    assert!(mine["api_keys"][0].get("secret_hash").is_none(), "never a secret");
    assert_eq!(mine["api_requests"].as_array().unwrap().len(), 3, "{}", mine["api_requests"]);
    assert_eq!(mine["oauth_clients_created"][0]["name"], "erin-ci");
    assert_eq!(mine["records_created"][0]["name"], "git.erin.example.com");
    assert!(!mine["sessions"].as_array().unwrap().is_empty());
    let actions: Vec<&str> =
        mine["audit_events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in
        ["user.invited", "auth.login", "apikey.created", "oauth_client.created", "catalog.fetch_host_allowed"]
    {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(actions.iter().filter(|a| **a == "auth.login").count() >= 2, "the failed sign-in names her too");
    let finn_before = export(&app, &t, &finn_cookie).await;
    let before = tables_naming(&app, &t, &[&erin, name]).await;
    for table in ["audit_events", "usage_counts", "fetch_allowlist"] {
        assert!(before.iter().any(|(found, _)| found == table), "the scan finds her in {table} before: {before:?}");
    }

    // The admin must type her email; a wrong confirmation changes nothing.
    let refused =
        app.call(&t.host, ERASE, &[("user_id", &erin_id), ("confirm", "someone@else.com")], Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert_eq!(export(&app, &t, &erin_cookie).await["profile"]["email"], erin.as_str());

    let erased =
        app.call(&t.host, ERASE, &[("user_id", &erin_id), ("confirm", &erin.to_uppercase())], Some(&admin)).await;
    assert!(erased.status.is_success(), "{} {}", erased.status, erased.body);
    let view: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    let report = view.erasure.expect("the report is shown once");
    assert!(view.members.iter().all(|m| m.email != erin));
    assert!(report.audit_events_pseudonymised >= 8, "{report:?}");
    assert_eq!((report.api_keys_deleted, report.api_requests_deleted), (2, 3), "{report:?}");
    assert_eq!(report.records_reattributed, 2, "the client and the fetch host: {report:?}");
    assert!(report.sessions_ended >= 1 && !report.account_deleted, "{report:?}");

    // Nothing in the tenant's schema names her any more, and the chain still verifies.
    assert_eq!(tables_naming(&app, &t, &[&erin, name, &erin_id]).await, vec![]);
    let verification = verify::verify(&app.db, &t.tenant, &app.state.keyring).await.unwrap();
    assert!(verification.intact(), "{verification:?}");
    assert!(verification.erased >= report.audit_events_pseudonymised as i64, "{verification:?}");
    // Her events are still there, under the pseudonym.
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.contains(&("user.erased".into(), report.pseudonym.clone(), "success".into())), "{actions:?}");
    assert!(actions.iter().any(|(a, target, _)| a == "apikey.created" && target.starts_with("bcn_")));

    // Her session and key are dead; Finn's export is what it was.
    assert_eq!(app.get(&t.host, EXPORT, Some(&erin_cookie)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(key_call(&app, &t, &secret).await, StatusCode::UNAUTHORIZED);
    let finn_after = export(&app, &t, &finn_cookie).await;
    assert_eq!(finn_after["profile"], finn_before["profile"]);
    assert_eq!(finn_after["membership"], finn_before["membership"]);
    assert_eq!(events_but_exports(&finn_after), events_but_exports(&finn_before));

    // The other tenant keeps her, with everything it holds; erasing her there too removes the
    // account itself.
    assert!(!tables_naming(&app, &t2, &[&erin]).await.is_empty());
    assert_eq!(accounts_named(&app, &erin).await, 1);
    let view: UsersView = app.call(&t2.host, "/api/settings/users/list", &[], Some(&admin2)).await.json();
    let erin_in_t2 = view.members.iter().find(|m| m.email == erin).expect("still a member there").user_id.to_string();
    let erased = app.call(&t2.host, ERASE, &[("user_id", &erin_in_t2), ("confirm", &erin)], Some(&admin2)).await;
    assert!(erased.status.is_success(), "{}", erased.body);
    let view: UsersView = app.call(&t2.host, "/api/settings/users/list", &[], Some(&admin2)).await.json();
    assert!(view.erasure.expect("report").account_deleted);
    assert_eq!(accounts_named(&app, &erin).await, 0);
    assert_eq!(tables_naming(&app, &t2, &[&erin, name]).await, vec![]);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_erase_and_never_themselves() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let slug = t.tenant.slug.to_string();
    let view: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    let me = view.me.to_string();
    let own = app.call(&t.host, ERASE, &[("user_id", &me), ("confirm", &t.admin_email)], Some(&admin)).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", own.body);
    assert!(own.body.contains("cannot erase yourself"), "{}", own.body);

    let ops_email = format!("ops@{slug}.example.com");
    let (ops_id, ops) = join(&app, &t, &admin, &ops_email, "Ops Person", Role::Admin).await;
    let (_, dev) = join(&app, &t, &admin, &format!("dev@{slug}.example.com"), "Dev Person", Role::Developer).await;
    let refused = app.call(&t.host, ERASE, &[("user_id", &ops_id), ("confirm", &ops_email)], Some(&dev)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(tables_naming(&app, &t, &[&ops_email]).await.iter().any(|(table, _)| table == "audit_events"));

    // An admin erases another admin: the tenant keeps an active admin.
    let erased = app.call(&t.host, ERASE, &[("user_id", &me), ("confirm", &t.admin_email)], Some(&ops)).await;
    assert!(erased.status.is_success(), "{}", erased.body);
    assert_eq!(tables_naming(&app, &t, &[&t.admin_email]).await, vec![]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_allows_an_erasure_to_drop_personal_data_and_nothing_else() {
    let app = TestApp::new().await;
    let (t, _) = app.signed_in_tenant().await;
    // The database's own answer, not the app's error (which hides it behind a reference).
    let attempt = |sql: &'static str| {
        let (db, tenant) = (app.db.clone(), t.tenant.clone());
        async move {
            db.with_tenant(&tenant, move |conn| {
                Box::pin(async move {
                    let result = diesel_async::SimpleAsyncConnection::batch_execute(conn, sql).await;
                    Ok::<_, AppError>(result.map_err(|e| e.to_string()))
                })
            })
            .await
            .unwrap()
        }
    };
    let refused = |result: Result<(), String>| {
        let message = result.expect_err("refused");
        assert!(message.contains("append-only"), "{message}");
    };
    refused(attempt("UPDATE audit_events SET actor = 'x', personal_salt = NULL").await);
    refused(attempt("SET LOCAL beacon.erasure = 'on'; UPDATE audit_events SET actor = 'x'").await);
    refused(
        attempt(
            "SET LOCAL beacon.erasure = 'on'; UPDATE audit_events SET personal_salt = NULL, action = 'auth.logout'",
        )
        .await,
    );
    refused(
        attempt("SET LOCAL beacon.erasure = 'on'; UPDATE audit_events SET personal_salt = NULL, content_hash = NULL")
            .await,
    );
    refused(attempt("SET LOCAL beacon.erasure = 'on'; DELETE FROM audit_events").await);
    refused(attempt("SET LOCAL beacon.erasure = 'on'; TRUNCATE audit_events").await);
    attempt(
        "SET LOCAL beacon.erasure = 'on'; UPDATE audit_events SET actor = 'erased-x', ip = NULL, personal_salt = NULL",
    )
    .await
    .expect("an erasure may rewrite personal fields");
    let verification = verify::verify(&app.db, &t.tenant, &app.state.keyring).await.unwrap();
    assert!(verification.intact() && verification.erased > 0, "{verification:?}");
}
