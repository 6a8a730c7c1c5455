//! The audit log's views and tamper evidence: the API's filters, pages and exports, and the
//! verifier against changes made straight in PostgreSQL as a superuser, around the app.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use diesel::sql_types::{BigInt, Bytea};
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::support::{TestApp, TestTenant};
use app::audit::chain::{self, Facts};
use app::audit::model::{TamperKind, Verification};
use app::audit::{repo, service, verify};
use app::auth::model::Role;
use app::error::AppError;

async fn verified(app: &TestApp, t: &TestTenant) -> Verification {
    verify::verify(&app.db, &t.tenant, &app.state.keyring).await.expect("verification runs")
}

/// Runs `statements` in the tenant's schema as the superuser with triggers off
/// (`session_replication_role = replica`): what someone with direct database access could do.
async fn tamper(app: &TestApp, t: &TestTenant, statements: &str) {
    let statements = statements.to_owned();
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                diesel_async::SimpleAsyncConnection::batch_execute(
                    conn,
                    &format!("SET LOCAL session_replication_role = replica; {statements}"),
                )
                .await?;
                Ok::<_, AppError>(())
            })
        })
        .await
        .expect("tampering as a superuser");
}

/// Ids of the tenant's chained events, in chain order.
async fn chained_ids(app: &TestApp, t: &TestTenant) -> Vec<i64> {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move { repo::chain_from(conn, 0, i64::MAX, 1_000).await.map_err(AppError::from) })
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect()
}

/// A tenant with a handful of events from real requests: provisioning, sign-ins, invitations.
async fn busy_tenant(app: &TestApp) -> (TestTenant, String) {
    let (t, admin) = app.signed_in_tenant().await;
    for who in ["ann", "bob", "cy"] {
        app.member(&t, &admin, &format!("{who}@{}.example.com", t.tenant.slug), Role::Viewer).await;
    }
    (t, admin)
}

async fn checkpoint(app: &TestApp, t: &TestTenant) -> Option<i64> {
    service::checkpoint(&app.db, &t.tenant, &app.state.keyring).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untouched_log_verifies_and_checkpoints_sign_its_head() {
    let app = TestApp::new().await;
    let (t, _) = busy_tenant(&app).await;
    let ids = chained_ids(&app, &t).await;
    assert!(ids.len() >= 7, "provisioning, sign-ins and invitations are chained: {ids:?}");

    let report = verified(&app, &t).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.events_checked, ids.len() as i64);
    assert_eq!(report.intact_through, ids.last().copied());

    assert_eq!(checkpoint(&app, &t).await, Some(ids.len() as i64));
    assert_eq!(checkpoint(&app, &t).await, None, "nothing new to sign");
    let report = verified(&app, &t).await;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.checkpoints, 1);
    assert!(report.summary().starts_with(&format!("Intact through event #{}", ids.last().unwrap())));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_changed_in_the_database_is_named() {
    let app = TestApp::new().await;
    let (t, _) = busy_tenant(&app).await;
    let ids = chained_ids(&app, &t).await;
    let victim = ids[3];
    tamper(&app, &t, &format!("UPDATE audit_events SET actor = 'someone-else' WHERE id = {victim}")).await;
    let report = verified(&app, &t).await;
    let problem = report.problem.clone().expect("found");
    assert_eq!((problem.kind, problem.event_id), (TamperKind::Changed, Some(victim)), "{problem:?}");
    assert_eq!(report.intact_through, Some(ids[2]));

    // A field outside the personal digest (the action) is caught the same way.
    let (t, _) = busy_tenant(&app).await;
    let victim = chained_ids(&app, &t).await[1];
    tamper(&app, &t, &format!("UPDATE audit_events SET outcome = 'failure' WHERE id = {victim}")).await;
    let problem = verified(&app, &t).await.problem.expect("found");
    assert_eq!((problem.kind, problem.event_id), (TamperKind::Changed, Some(victim)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_event_is_named() {
    let app = TestApp::new().await;
    let (t, _) = busy_tenant(&app).await;
    let ids = chained_ids(&app, &t).await;
    tamper(&app, &t, &format!("DELETE FROM audit_events WHERE id = {}", ids[2])).await;
    let problem = verified(&app, &t).await.problem.expect("found");
    assert_eq!((problem.kind, problem.event_id), (TamperKind::Removed, Some(ids[2])));

    // Removing its chain entry as well leaves a gap in the positions.
    let (t, _) = busy_tenant(&app).await;
    let ids = chained_ids(&app, &t).await;
    tamper(
        &app,
        &t,
        &format!("DELETE FROM audit_events WHERE id = {0}; DELETE FROM audit_chain WHERE event_id = {0}", ids[2]),
    )
    .await;
    let report = verified(&app, &t).await;
    let problem = report.problem.expect("found");
    assert_eq!(problem.kind, TamperKind::Removed);
    assert_eq!(report.intact_through, Some(ids[1]));
    assert!(problem.message.contains(&format!("after event #{}", ids[1])), "{}", problem.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_inserted_around_the_app_is_named() {
    let app = TestApp::new().await;
    let (t, _) = busy_tenant(&app).await;
    // With triggers off the row never reaches the chain.
    tamper(
        &app,
        &t,
        "INSERT INTO audit_events (actor, action, target, outcome, severity) \
         VALUES ('mallory@example.com', 'user.role_changed', 'mallory@example.com', 'success', 'high')",
    )
    .await;
    let report = verified(&app, &t).await;
    let problem = report.problem.expect("found");
    assert_eq!(problem.kind, TamperKind::Inserted);
    let inserted = problem.event_id.unwrap();
    assert!(!chained_ids(&app, &t).await.contains(&inserted));

    // With triggers on the chain takes it, but its hashes are made up: caught as changed.
    let (t, _) = busy_tenant(&app).await;
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                diesel::sql_query(
                    "INSERT INTO audit_events (actor, action, target, outcome, severity, personal_salt, personal_digest, content_hash) \
                     VALUES ('mallory@example.com', 'user.role_changed', 'x', 'success', 'high', $1, $2, $2)",
                )
                .bind::<Bytea, _>(vec![1u8; 16])
                .bind::<Bytea, _>(vec![2u8; 32])
                .execute(conn)
                .await?;
                Ok::<_, AppError>(())
            })
        })
        .await
        .unwrap();
    let forged = *chained_ids(&app, &t).await.last().unwrap();
    let problem = verified(&app, &t).await.problem.expect("found");
    assert_eq!((problem.kind, problem.event_id), (TamperKind::Changed, Some(forged)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_tail_is_found_through_the_signed_checkpoint() {
    let app = TestApp::new().await;
    let (t, _) = busy_tenant(&app).await;
    let signed = checkpoint(&app, &t).await.expect("signed");
    let ids = chained_ids(&app, &t).await;
    let keep = ids.len() - 2;
    // The last two events, their chain entries, and the head wound back to match: a
    // consistent chain, shorter than the signature says.
    tamper(
        &app,
        &t,
        &format!(
            "DELETE FROM audit_events WHERE id IN ({a}, {b}); DELETE FROM audit_chain WHERE seq > {keep}; \
             UPDATE audit_chain_head SET seq = {keep}, hash = (SELECT chain_hash FROM audit_chain WHERE seq = {keep})",
            a = ids[keep],
            b = ids[keep + 1]
        ),
    )
    .await;
    let report = verified(&app, &t).await;
    let problem = report.problem.expect("found");
    assert_eq!(problem.kind, TamperKind::Truncated, "{}", problem.message);
    assert!(problem.message.contains(&format!("covers {signed}")), "{}", problem.message);
    assert_eq!(report.intact_through, Some(ids[keep - 1]));
}

#[derive(diesel::QueryableByName)]
struct Positioned {
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// Someone who knows the hashing rules changes an event and recomputes every hash after it: each
/// event and link checks out, but the chain no longer ends where the server signed it.
#[tokio::test(flavor = "multi_thread")]
async fn a_rewritten_chain_is_caught_by_its_checkpoint() {
    let app = TestApp::new().await;
    let (t, _) = busy_tenant(&app).await;
    checkpoint(&app, &t).await.expect("signed");
    let chain = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move { repo::chain_from(conn, 0, i64::MAX, 1_000).await.map_err(AppError::from) })
        })
        .await
        .unwrap();
    let victim = 3usize;
    let mut previous = chain::GENESIS;
    let mut updates = Vec::new();
    for (i, entry) in chain.iter().enumerate() {
        let event = entry.event.as_ref().unwrap();
        let digest: chain::Hash = event.personal_digest.as_deref().unwrap().try_into().unwrap();
        let action = if i == victim { "auth.logout" } else { event.action.as_str() };
        let facts = Facts {
            occurred_at: event.occurred_at,
            action,
            outcome: &event.outcome,
            severity: &event.severity,
            request_id: event.request_id.as_deref(),
        };
        let content = chain::content_hash(&facts, &digest);
        previous = chain::link(&previous, entry.seq, entry.event_id, &content);
        if i >= victim {
            updates.push(format!(
                "UPDATE audit_events SET action = '{action}', content_hash = '\\x{}' WHERE id = {}; \
                 UPDATE audit_chain SET chain_hash = '\\x{}' WHERE seq = {};",
                chain::hex(&content),
                entry.event_id,
                chain::hex(&previous),
                entry.seq
            ));
        }
    }
    updates.push(format!("UPDATE audit_chain_head SET hash = '\\x{}';", chain::hex(&previous)));
    tamper(&app, &t, &updates.join(" ")).await;

    let report = verified(&app, &t).await;
    let problem = report.problem.expect("found");
    assert_eq!(problem.kind, TamperKind::Checkpoint, "{}", problem.message);
    assert_eq!(report.events_checked, chain.len() as i64, "every event and link checked out on its own");
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_need_the_server_key() {
    let app = TestApp::new().await;
    let (t, _) = busy_tenant(&app).await;
    let signed = checkpoint(&app, &t).await.unwrap();
    let positioned: Positioned = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                diesel::sql_query("SELECT max(seq) AS seq FROM audit_checkpoints")
                    .get_result(conn)
                    .await
                    .map_err(AppError::from)
            })
        })
        .await
        .unwrap();
    assert_eq!(positioned.seq, signed);
    tamper(&app, &t, "UPDATE audit_checkpoints SET signature = decode(repeat('ab', 32), 'hex')").await;
    let problem = verified(&app, &t).await.problem.expect("found");
    assert_eq!(problem.kind, TamperKind::Checkpoint);
    assert!(problem.message.contains("wrong signature"), "{}", problem.message);

    // Verified with keys that no longer include the signing one, the checkpoint cannot be checked.
    let (t, _) = busy_tenant(&app).await;
    checkpoint(&app, &t).await.unwrap();
    let other_keys = app::keyring::Keyring::parse("other:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    let problem = verify::verify(&app.db, &t.tenant, &other_keys).await.unwrap().problem.expect("found");
    assert!(problem.message.contains("not in BEACON_SECRET_KEYS"), "{}", problem.message);
}

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().expect("items").clone()
}

fn actions(body: &Value) -> Vec<String> {
    items(body).iter().map(|i| i["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_api_filters_and_pages() {
    let app = TestApp::new().await;
    let (t, admin) = busy_tenant(&app).await;

    let (status, body, _) = app.get_json(&t, &admin, "/api/audit?action=user.invited&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(actions(&body), ["user.invited", "user.invited"]);
    let first = items(&body);
    assert_eq!(first[0]["target"], format!("cy@{}.example.com", t.tenant.slug), "newest first");
    assert!(first[0]["chain_seq"].is_i64() && first[0]["details"].is_object());
    let cursor = body["nextCursor"].as_str().expect("more").to_owned();
    let (_, older, _) =
        app.get_json(&t, &admin, &format!("/api/audit?action=user.invited&limit=2&cursor={cursor}")).await;
    // Ann, then the admin, invited when the tenant was provisioned.
    assert_eq!(items(&older).len(), 2);
    assert_eq!(items(&older)[0]["target"], format!("ann@{}.example.com", t.tenant.slug));
    assert_eq!(items(&older)[1]["target"], t.admin_email);
    assert!(older["nextCursor"].is_null());

    let (_, high, _) = app.get_json(&t, &admin, "/api/audit?severity=high").await;
    let high = actions(&high);
    assert!(high.contains(&"user.invited".to_owned()) && !high.contains(&"auth.login".to_owned()), "{high:?}");

    let (_, found, _) = app.get_json(&t, &admin, "/api/audit?q=BOB%40").await;
    assert!(
        items(&found).iter().all(|i| i["target"].as_str().unwrap().starts_with("bob@")) && !items(&found).is_empty()
    );
    // Whole words: the part of a word is not one.
    let (_, word, _) = app.get_json(&t, &admin, "/api/audit?q=bob").await;
    assert_eq!(items(&word), items(&found));
    let (_, part, _) = app.get_json(&t, &admin, "/api/audit?q=bo").await;
    assert!(items(&part).is_empty(), "{part}");
    let (status, _, _) = app.get_json(&t, &admin, "/api/audit?q=%40%40").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, by_admin, _) =
        app.get_json(&t, &admin, &format!("/api/audit?actor={}&action=user.invited", t.admin_email)).await;
    assert_eq!(items(&by_admin).len(), 3);
    let (_, failures, _) = app.get_json(&t, &admin, "/api/audit?outcome=failure").await;
    assert!(items(&failures).is_empty());

    // Requests of the test client come from 127.x.y.z.
    let (_, loopback, _) = app.get_json(&t, &admin, "/api/audit?ip=127.0.0.0%2F8&action=auth.login").await;
    assert!(!items(&loopback).is_empty());
    let (_, elsewhere, _) = app.get_json(&t, &admin, "/api/audit?ip=10.0.0.0%2F8").await;
    assert!(items(&elsewhere).is_empty());
    let (_, future, _) = app.get_json(&t, &admin, "/api/audit?from=2999-01-01").await;
    assert!(items(&future).is_empty());

    for bad in [
        "limit=0",
        "limit=1001",
        "action=everything",
        "severity=urgent",
        "outcome=maybe",
        "ip=not-an-address",
        "cursor=forged",
        "from=2026-12-02&to=2026-12-01",
        "before=1_1&after=1_1",
    ] {
        let (status, body, _) = app.get_json(&t, &admin, &format!("/api/audit?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["name"], "InputError", "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_stream_every_matching_event_and_are_audited() {
    let app = TestApp::new().await;
    let (t, admin) = busy_tenant(&app).await;
    let response = app.get(&t.host, "/api/audit/export?format=ndjson&action=user.invited", Some(&admin)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers[header::CONTENT_TYPE], "application/x-ndjson");
    let lines: Vec<Value> =
        response.body.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 4, "three members and the admin");
    assert!(lines.iter().all(|l| l["action"] == "user.invited"));

    let csv = app.get(&t.host, "/api/audit/export?format=csv", Some(&admin)).await;
    assert_eq!(csv.status, StatusCode::OK);
    let rows: Vec<&str> = csv.body.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert!(rows[0].starts_with("id,occurred_at,actor,"));
    // Each export is recorded before it streams: both are in this one.
    assert_eq!(rows.iter().filter(|r| r.contains(",audit.exported,")).count(), 2, "{rows:?}");
    let all = app.get_json(&t, &admin, "/api/audit?limit=1000").await.1;
    assert_eq!(rows.len() - 1, items(&all).len(), "a header and every event");

    let (status, body, _) = app.get_json(&t, &admin, "/api/audit/export?format=xml").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_through_the_api_is_recorded() {
    let app = TestApp::new().await;
    let (t, admin) = busy_tenant(&app).await;
    let (status, body) = app.post_json(&t, &admin, "/api/audit/verify", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["intact"], true);
    let recorded = body["recordedAs"].as_i64().unwrap();
    let (_, event, _) = app.get_json(&t, &admin, "/api/audit?action=audit.verified").await;
    assert_eq!(items(&event)[0]["id"], recorded);
    assert_eq!(items(&event)[0]["details"]["summary"], body["summary"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_and_keys_with_audit_read_see_the_log() {
    let app = TestApp::new().await;
    let (t, admin) = busy_tenant(&app).await;
    let (_, viewer) = app.member(&t, &admin, &format!("val@{}.example.com", t.tenant.slug), Role::Viewer).await;
    let (status, _, _) = app.get_json(&t, &viewer, "/api/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let page = app.get(&t.host, "/audit", Some(&viewer)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let with_key = |key: String| {
        Request::get("/api/audit?limit=5")
            .header(header::HOST, &t.host)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap()
    };
    let (_, reader) = app.create_key(&t, &admin, "siem", &["audit:read"]).await;
    let answered = app.send(with_key(reader)).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    let (_, catalog_only) = app.create_key(&t, &admin, "ci", &["catalog:read"]).await;
    assert_eq!(app.send(with_key(catalog_only)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_permission_report_lists_who_gained_or_lost_what_in_a_period() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let (other, other_admin) = app.signed_in_tenant().await;
    let email = format!("dana@{}.example.com", t.tenant.slug);
    let (dana_id, _) = app.member(&t, &admin, &email, Role::Viewer).await;
    let changed = app
        .call(&t.host, "/api/settings/users/role", &[("user_id", &dana_id), ("role", "developer")], Some(&admin))
        .await;
    assert!(changed.status.is_success(), "{}", changed.body);
    let (key_id, _) = app.create_key(&t, &admin, "exporter", &["audit:read", "catalog:read"]).await;
    let revoked = app.call(&t.host, "/api/access/keys/revoke", &[("id", &key_id)], Some(&admin)).await;
    assert!(revoked.status.is_success(), "{}", revoked.body);

    let (status, report) = app.post_json(&t, &admin, "/api/permissions/audit", serde_json::json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let changes: Vec<(String, String, String, String)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let field = |k: &str| c[k].as_str().unwrap().to_owned();
            (field("subject"), field("grant"), field("change"), field("value"))
        })
        .collect();
    let key = changes.iter().find(|c| c.0.starts_with("key bcn_")).map(|c| c.0.clone()).expect("the key is reported");
    let has = |subject: &str, grant: &str, change: &str, value: &str| {
        changes
            .iter()
            .any(|c| (c.0.as_str(), c.1.as_str(), c.2.as_str(), c.3.as_str()) == (subject, grant, change, value))
    };
    assert!(has(&email, "role", "gained", "viewer"), "{changes:?}");
    assert!(has(&email, "role", "lost", "viewer"), "{changes:?}");
    assert!(has(&email, "role", "gained", "developer"), "{changes:?}");
    for scope in ["audit:read", "catalog:read"] {
        assert!(has(&key, "scope", "gained", scope), "{changes:?}");
        // The revocation took away what the key held, read from the key's row.
        assert!(has(&key, "scope", "lost", scope), "{changes:?}");
    }
    assert!(key.ends_with("(exporter)"));
    // Newest first: the revocation is the first change.
    assert_eq!(changes[0].2, "lost");
    assert!(report["changes"][0]["actor"].as_str().unwrap().contains(&t.admin_email));
    assert_eq!(report["truncated"], false);

    // A period before any of it is empty; a period is checked; another tenant sees only its own.
    let (status, before) = app
        .post_json(
            &t,
            &admin,
            "/api/permissions/audit",
            serde_json::json!({ "from": "2020-01-01", "to": "2020-01-31" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(before["changes"], serde_json::json!([]));
    let (status, bad) = app
        .post_json(
            &t,
            &admin,
            "/api/permissions/audit",
            serde_json::json!({ "from": "2026-12-31", "to": "2026-01-01" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, _) = app.post_json(&t, &admin, "/api/permissions/audit", serde_json::json!({ "since": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, theirs) = app.post_json(&other, &other_admin, "/api/permissions/audit", serde_json::json!({})).await;
    let theirs = theirs["changes"].as_array().unwrap();
    assert!(theirs.iter().all(|c| !c["subject"].as_str().unwrap().contains(t.tenant.slug.as_str())), "{theirs:?}");
}

/// The test process's resident memory, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of KiB")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_event_export_streams_in_bounded_memory() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const EVENTS: i64 = 1_000_000;
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let started = std::time::Instant::now();
    // This throwaway tenant loses its free-text and network indexes, which the export does not
    // use and which would make loading a million rows take minutes.
    tamper(
        &app,
        &t,
        "DROP INDEX audit_events_words; DROP INDEX audit_events_by_network; \
         SELECT audit_ensure_months(now() - interval '31 days', now())",
    )
    .await;
    // Bulk-loaded around the app (they stay outside the chain), in statements of 100,000.
    for from in (0..EVENTS).step_by(100_000) {
        tamper(
            &app,
            &t,
            &format!(
                "INSERT INTO audit_events (occurred_at, actor, action, target, outcome, severity, ip, user_agent, request_id, details) \
                 SELECT now() - interval '30 days' + g * interval '1 millisecond', 'member' || (g % 500) || '@bulk.example.com', \
                        'catalog.entities_imported', 'component:default/service-' || (g % 20000), 'success', 'medium', \
                        '10.1.' || (g % 256) || '.7', 'Mozilla/5.0 (X11; Linux x86_64) export-test', md5(g::text), \
                        jsonb_build_object('created', g % 7, 'updated', g % 3) \
                   FROM generate_series({from}::bigint, {}::bigint) AS g",
                from + 99_999
            ),
        )
        .await;
    }

    println!("loaded {EVENTS} events in {:.1} s", started.elapsed().as_secs_f64());
    let started = std::time::Instant::now();
    let mut request = Request::get("/api/audit/export?format=ndjson")
        .header(header::HOST, &t.host)
        .header(header::COOKIE, &admin)
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(app.client_ip));
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let baseline = resident_kib();
    let (mut peak, mut bytes, mut lines, mut next_sample) = (baseline, 0u64, 0u64, 0u64);
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("the download completes");
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
            lines += data.iter().filter(|b| **b == b'\n').count() as u64;
        }
        if bytes >= next_sample {
            peak = peak.max(resident_kib());
            next_sample = bytes + 4 * 1024 * 1024;
        }
    }
    assert!(lines >= EVENTS as u64, "every event is in the export: {lines} lines");
    assert!(bytes > 200 * 1024 * 1024, "a sizeable export: {bytes} bytes");
    let growth_mib = (peak.saturating_sub(baseline)) / 1024;
    println!(
        "exported {lines} events, {} MiB in {:.1} s; resident memory grew by {growth_mib} MiB",
        bytes / 1024 / 1024,
        started.elapsed().as_secs_f64()
    );
    assert!(growth_mib < 64, "memory grew by {growth_mib} MiB while streaming {} MiB", bytes / 1024 / 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn free_text_finds_a_word_in_every_event_and_a_rare_one_past_the_newest_events() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    // More events than a free-text page reads newest-first (2,000), every one naming "fleet";
    // one, forty days older, naming "needle": it is found only through the word index.
    tamper(
        &app,
        &t,
        "SELECT audit_ensure_months(now() - interval '60 days', now()); \
         INSERT INTO audit_events (occurred_at, actor, action, target, outcome, severity) \
         SELECT now() - g * interval '1 second', 'fleet@example.com', 'auth.login', 'fleet-' || g, 'success', 'low' \
           FROM generate_series(1, 3000) AS g; \
         INSERT INTO audit_events (occurred_at, actor, action, target, outcome, severity) \
         VALUES (now() - interval '40 days', 'cli', 'auth.login', 'needle-7', 'success', 'low')",
    )
    .await;
    let targets =
        |body: &Value| items(body).iter().map(|i| i["target"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

    let (status, every, _) = app.get_json(&t, &admin, "/api/audit?q=fleet&limit=50").await;
    assert_eq!(status, StatusCode::OK, "{every}");
    let expected: Vec<String> = (1..=50).map(|g| format!("fleet-{g}")).collect();
    assert_eq!(targets(&every), expected, "the newest fifty, newest first");
    let cursor = every["nextCursor"].as_str().expect("more pages").to_owned();
    let (_, next, _) = app.get_json(&t, &admin, &format!("/api/audit?q=fleet&limit=50&cursor={cursor}")).await;
    assert_eq!(targets(&next)[..2], ["fleet-51", "fleet-52"]);

    for q in ["needle", "needle-7"] {
        let (_, rare, _) = app.get_json(&t, &admin, &format!("/api/audit?q={q}")).await;
        assert_eq!(targets(&rare), ["needle-7"], "{q}");
    }
    // Both words must be in one event: none has them together.
    let (_, both, _) = app.get_json(&t, &admin, "/api/audit?q=fleet%20needle").await;
    assert!(items(&both).is_empty(), "{both}");
}
