//! Competitive briefs against the real stack: sealed company fields (key id, bound to their
//! row and field, rotation that resumes and lets old keys retire, never cached), discovery's
//! cache invalidated by an edit, a brief generated once when a server stopped mid-way, the PDF
//! read back with `pdftotext`, and who sees which brief through the API.

use axum::http::StatusCode;
use diesel::sql_types::{BigInt, Bytea, Text};
use diesel_async::RunQueryDsl;
use serde_json::json;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;

use crate::support::{TestApp, TestTenant};
use app::audit::service::AuditSource;
use app::auth::model::Role;
use app::briefs::generator::BriefGenerator;
use app::briefs::model::{Company, Sensitive};
use app::briefs::{repo, service};
use app::error::AppError;
use app::keyring::Keyring;

const YC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/yc-companies/yc-companies-all.jsonl.gz");

fn key(id: &str, byte: u8) -> String {
    use base64::Engine;
    format!("{id}:{}", base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

async fn import(
    app: &TestApp,
    keyring: &Keyring,
    t: &TestTenant,
    lines: &[serde_json::Value],
) -> service::ImportSummary {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    service::import_companies(
        &app.db,
        keyring,
        &t.tenant,
        AuditSource::command_line(),
        body.into_bytes(),
        Default::default(),
        "test.jsonl",
    )
    .await
    .expect("import")
}

fn generator(app: &TestApp, redis: bool) -> BriefGenerator {
    BriefGenerator {
        db: app.db.clone(),
        keyring: app.state.keyring.clone(),
        redis: redis.then(|| app.redis()),
        briefs: app.state.briefs.clone(),
    }
}

#[derive(diesel::QueryableByName)]
struct SecretRow {
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = Bytea)]
    sealed: Vec<u8>,
}

async fn secrets(app: &TestApp, t: &TestTenant) -> Vec<SecretRow> {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                diesel::sql_query("SELECT key_id, sealed FROM company_secrets ORDER BY company_id, field")
                    .load::<SecretRow>(conn)
                    .await
                    .map_err(AppError::from)
            })
        })
        .await
        .unwrap()
}

async fn company_id(app: &TestApp, t: &TestTenant, name: &str) -> uuid::Uuid {
    let name = name.to_owned();
    app.db
        .with_tenant(&t.tenant, move |conn| Box::pin(async move { service::find_company(conn, &name).await }))
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn sealed_fields_carry_their_key_id_and_open_only_in_their_own_row_and_field() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let keyring = Keyring::parse(&key("k2026", 7)).unwrap();
    import(
        &app,
        &keyring,
        &t,
        &[
            json!({"name": "Alpha", "website": "alpha.example.com", "funding": "12,500,000", "notes": "met at KubeCon"}),
            json!({"name": "Beta", "website": "beta.example.com", "funding": "900k"}),
        ],
    )
    .await;
    let rows = secrets(&app, &t).await;
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row.key_id, "k2026");
        for plain in ["12,500,000", "met at KubeCon", "900k"] {
            assert!(!row.sealed.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} stored in the clear");
        }
    }
    let (alpha, beta) = (company_id(&app, &t, "Alpha").await, company_id(&app, &t, "Beta").await);
    let page = service::company_page(&app.db, &keyring, &t.tenant, alpha, true).await.unwrap();
    assert_eq!(page.sensitive.unwrap().funding.as_deref(), Some("12,500,000"));
    assert!(service::company_page(&app.db, &keyring, &t.tenant, alpha, false).await.unwrap().sensitive.is_none());

    // Beta's sealed funding copied into Alpha's row, then into Alpha's notes: neither opens.
    let moved = |sql: &'static str| {
        let (alpha, beta) = (alpha, beta);
        app.db.with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                diesel::sql_query(sql)
                    .bind::<diesel::sql_types::Uuid, _>(alpha)
                    .bind::<diesel::sql_types::Uuid, _>(beta)
                    .execute(conn)
                    .await
                    .map_err(AppError::from)
            })
        })
    };
    moved(
        "UPDATE company_secrets SET sealed = (SELECT sealed FROM company_secrets WHERE company_id = $2 AND field = 'funding') \
          WHERE company_id = $1 AND field = 'funding'",
    )
    .await
    .unwrap();
    assert!(
        service::company_page(&app.db, &keyring, &t.tenant, alpha, true).await.is_err(),
        "another row's ciphertext"
    );
    moved(
        "UPDATE company_secrets SET sealed = (SELECT sealed FROM company_secrets WHERE company_id = $1 AND field = 'notes') \
          WHERE company_id = $2 AND field = 'funding' AND $1 IS NOT NULL",
    )
    .await
    .unwrap();
    assert!(
        service::company_page(&app.db, &keyring, &t.tenant, beta, true).await.is_err(),
        "another field's ciphertext"
    );

    // The audit log names the sealed fields, never their values.
    let audit = app.audit_actions(&t.tenant).await;
    assert!(audit.iter().any(|(action, target, _)| action == "company.imported" && target == "test.jsonl"));
    let details: Vec<String> = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                #[derive(diesel::QueryableByName)]
                struct Details {
                    #[diesel(sql_type = Text)]
                    details: String,
                }
                let rows: Vec<Details> =
                    diesel::sql_query("SELECT coalesce(details::text, '') AS details FROM audit_events")
                        .load(conn)
                        .await?;
                Ok::<_, AppError>(rows.into_iter().map(|r| r.details).collect())
            })
        })
        .await
        .unwrap();
    assert!(details.iter().all(|d| !d.contains("12,500,000") && !d.contains("KubeCon")));
}

#[tokio::test]
async fn imports_match_by_website_then_name_merge_repeats_and_keep_namesakes_apart() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let keyring = app.state.keyring.clone();
    let first = import(
        &app,
        &keyring,
        &t,
        &[
            json!({"name": "Acme", "website": "https://acme.com", "funding": "5M"}),
            json!({"name": "Acme", "one_liner": "Rockets"}),
            json!({"name": "Acme", "website": "acme.io", "one_liner": "Another Acme"}),
            json!({"name": "Zeta", "one_liner": "Known by name only"}),
        ],
    )
    .await;
    assert_eq!((first.created, first.merged, first.updated), (3, 1, 0));
    // Zeta now comes with a website: the same company, enriched, not a second Zeta.
    let second = import(&app, &keyring, &t, &[json!({"name": "Zeta", "website": "zeta.dev"})]).await;
    assert_eq!((second.created, second.updated), (0, 1));
    assert_eq!(count(&app, &t, "SELECT count(*) AS n FROM companies").await, 3);

    let acme = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                let all = repo::all_companies(conn).await?;
                Ok::<_, AppError>(all.into_iter().find(|c| c.domain.as_deref() == Some("acme.com")).unwrap())
            })
        })
        .await
        .unwrap();
    assert_eq!(acme.one_liner.as_deref(), Some("Rockets"), "the repeat's values merged in");
    let page = service::company_page(&app.db, &keyring, &t.tenant, acme.id, true).await.unwrap();
    assert_eq!(page.sensitive.unwrap().funding.as_deref(), Some("5M"), "the earlier line's funding kept");
    // Two companies named Acme: a brief by name asks which one.
    let ambiguous = app
        .db
        .with_tenant(&t.tenant, |conn| Box::pin(async move { service::find_company(conn, "Acme").await }))
        .await
        .unwrap_err();
    assert!(ambiguous.to_string().contains("acme.com") && ambiguous.to_string().contains("acme.io"), "{ambiguous}");
}

#[tokio::test]
async fn rotation_reseals_every_field_once_resumes_after_a_crash_and_lets_the_old_key_retire() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let old = Keyring::parse(&key("old", 1)).unwrap();
    let companies: Vec<_> = (0..5)
        .map(|i| json!({"name": format!("Company {i}"), "website": format!("c{i}.example.com"), "funding": format!("{i}M"), "notes": format!("note {i}")}))
        .collect();
    import(&app, &old, &t, &companies).await;
    let both = Keyring::parse(&format!("{},{}", key("new", 2), key("old", 1))).unwrap();

    // The first run dies after its first batch (as a killed process would): that batch committed.
    let (db, tenant, keyring) = (app.db.clone(), t.tenant.clone(), both.clone());
    let crashed = tokio::spawn(async move {
        service::rotate_secrets(&db, &keyring, &tenant, AuditSource::command_line(), 4, |_, _| panic!("killed")).await
    })
    .await;
    assert!(crashed.is_err());
    let rows = secrets(&app, &t).await;
    assert_eq!(rows.iter().filter(|r| r.key_id == "new").count(), 4);

    let mut reports = Vec::new();
    let resealed = service::rotate_secrets(&app.db, &both, &t.tenant, AuditSource::command_line(), 4, |done, left| {
        reports.push((done, left))
    })
    .await
    .unwrap();
    assert_eq!(resealed, 6, "the remaining fields only, each once");
    assert_eq!(reports.last(), Some(&(6, 0)));
    assert!(secrets(&app, &t).await.iter().all(|r| r.key_id == "new"));

    // The old key retires: the new one alone opens everything.
    let retired = Keyring::parse(&key("new", 2)).unwrap();
    let id = company_id(&app, &t, "Company 3").await;
    let page = service::company_page(&app.db, &retired, &t.tenant, id, true).await.unwrap();
    assert_eq!(
        page.sensitive.unwrap(),
        Sensitive { funding: Some("3M".into()), notes: Some("note 3".into()), ..Default::default() }
    );
    let audit = app.audit_actions(&t.tenant).await;
    assert_eq!(audit.iter().filter(|(action, _, _)| action == "company.secrets_rotated").count(), 1);
}

#[tokio::test]
async fn a_company_edit_invalidates_the_cached_discovery_and_no_sensitive_value_is_cached() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let keyring = app.state.keyring.clone();
    import(
        &app,
        &keyring,
        &t,
        &[
            json!({"name": "Target", "one_liner": "Cloud cost visibility for Kubernetes clusters", "subindustry": "B2B -> Infrastructure", "funding": "secret-funding-777"}),
            json!({"name": "Near", "one_liner": "Cloud cost reports for finance", "subindustry": "B2B -> Infrastructure", "funding": "secret-funding-888"}),
            json!({"name": "Bakery", "one_liner": "Fresh bread delivered", "subindustry": "Consumer -> Food"}),
        ],
    )
    .await;
    let target = service::company_page(&app.db, &keyring, &t.tenant, company_id(&app, &t, "Target").await, false)
        .await
        .unwrap()
        .company;
    let indexes = service::IndexCache::default();
    let redis = app.redis();
    let (first, _, version) =
        service::discover(&app.db, &indexes, Some(&redis), &t.tenant, &target, 2026).await.unwrap();
    assert_eq!(first.iter().map(|c| c.company.name.as_str()).collect::<Vec<_>>(), ["Near"]);
    let cache_key = format!("beacon:briefs:{}:discovery:{}:{version}:2026", t.tenant.schema.as_str(), target.id);
    let cached: Option<String> = redis.get(&cache_key).await.unwrap();
    let cached = cached.expect("the discovery is cached");
    assert!(!cached.contains("secret-funding"), "no sealed value in the cache");

    // The bakery pivots to Kubernetes cost: the next discovery reads the new data.
    let bakery = company_id(&app, &t, "Bakery").await;
    let edited = Company {
        id: bakery,
        name: "Bakery".into(),
        one_liner: Some("Kubernetes clusters cloud cost visibility and control".into()),
        subindustry: Some("B2B -> Infrastructure".into()),
        ..Company::default()
    };
    service::save_company(&app.db, &keyring, &t.tenant, AuditSource::command_line(), edited, Sensitive::default())
        .await
        .unwrap();
    let (second, _, newer) =
        service::discover(&app.db, &indexes, Some(&redis), &t.tenant, &target, 2026).await.unwrap();
    assert!(newer > version);
    assert_eq!(second.as_slice().first().map(|c| c.company.name.as_str()), Some("Bakery"), "{second:?}");
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, t: &TestTenant, sql: &'static str) -> i64 {
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move { diesel::sql_query(sql).get_result::<Count>(conn).await.map_err(AppError::from) })
        })
        .await
        .unwrap()
        .n
}

/// The brief's lease (or, queued, its retry time) passes: as if its server stopped, or its wait
/// ended.
async fn lease_passes(app: &TestApp, t: &TestTenant) {
    count(app, t, "WITH u AS (UPDATE competitive_briefs SET lease_until = now() - interval '1 second' RETURNING 1) SELECT count(*) AS n FROM u").await;
}

#[tokio::test]
async fn a_brief_whose_server_stopped_mid_way_is_generated_once_by_another() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let keyring = app.state.keyring.clone();
    let lines: Vec<_> = (0..30)
        .map(|i| json!({"name": format!("Peer {i}"), "one_liner": format!("Cloud cost tool number {i} for engineers"), "subindustry": "B2B -> Infrastructure"}))
        .chain([json!({"name": "Subject", "one_liner": "Cloud cost tool for engineers", "subindustry": "B2B -> Infrastructure"})])
        .collect();
    import(&app, &keyring, &t, &lines).await;
    let (status, created) = app.post_json(&t, &cookie, "/api/briefs", json!({"company": "Subject"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // Server A claims the brief, then stops before writing anything.
    let now = chrono::Utc::now();
    let stale = app
        .db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                repo::claim(conn, now, now + chrono::Duration::seconds(60), 3).await.map_err(AppError::from)
            })
        })
        .await
        .unwrap()
        .expect("claimed");
    let other = generator(&app, false);
    assert!(!other.generate_next(&t.tenant).await.unwrap(), "leased to A: nothing to claim");
    // A's lease runs out; B claims and generates it.
    lease_passes(&app, &t).await;
    assert!(other.generate_next(&t.tenant).await.unwrap());
    let (_, brief, _) = app.get_json(&t, &cookie, &format!("/api/briefs/{id}")).await;
    assert_eq!(brief["summary"]["status"], "ready", "{brief}");

    // A comes back and tries to write its result: refused, nothing doubled.
    let finished = app
        .db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                let done = repo::Finished {
                    data_version: 1,
                    threat_score: 1.0,
                    content: json!({}),
                    pdf: b"%PDF-stale",
                    generated_at: chrono::Utc::now(),
                    duration_ms: 1,
                    competitors: &[],
                };
                repo::finish(conn, &stale, done).await.map_err(AppError::from)
            })
        })
        .await
        .unwrap();
    assert!(!finished);
    assert_eq!(count(&app, &t, "SELECT count(*) AS n FROM competitors").await, 10);
    let generated = app.audit_actions(&t.tenant).await.into_iter().filter(|(a, _, _)| a == "brief.generated").count();
    assert_eq!(generated, 1);
}

#[tokio::test]
async fn a_brief_whose_servers_stop_on_every_attempt_fails_instead_of_stopping_the_next() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    import(&app, &app.state.keyring.clone(), &t, &[json!({"name": "Heavy", "one_liner": "Rockets"})]).await;
    let (_, created) = app.post_json(&t, &cookie, "/api/briefs", json!({"company": "Heavy"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let now = chrono::Utc::now();
        let claimed = app
            .db
            .with_tenant(&t.tenant, move |conn| {
                Box::pin(async move {
                    repo::claim(conn, now, now + chrono::Duration::seconds(60), 3).await.map_err(AppError::from)
                })
            })
            .await
            .unwrap();
        assert!(claimed.is_some());
        // The server dies with it: its lease runs out.
        lease_passes(&app, &t).await;
    }
    assert!(!generator(&app, false).generate_next(&t.tenant).await.unwrap(), "not claimed a fourth time");
    let (_, brief, _) = app.get_json(&t, &cookie, &format!("/api/briefs/{id}")).await;
    assert_eq!(brief["summary"]["status"], "failed", "{brief}");
    assert!(brief["summary"]["error"].as_str().unwrap().contains("every attempt"));
}

/// A failed attempt is retried after a wait that doubles (10 s, then 20 s), not at once; the
/// third failure is final and says why.
#[tokio::test]
async fn a_failed_generation_is_retried_after_a_growing_wait_then_fails_with_its_reason() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    import(&app, &app.state.keyring.clone(), &t, &[json!({"name": "Gone Soon", "one_liner": "Vanishing ink"})]).await;
    let (_, created) = app.post_json(&t, &cookie, "/api/briefs", json!({"company": "Gone Soon"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // The company goes while its brief waits: every attempt fails.
    count(&app, &t, "WITH d AS (DELETE FROM companies RETURNING 1) SELECT count(*) AS n FROM d").await;
    let wait =
        || count(&app, &t, "SELECT EXTRACT(EPOCH FROM lease_until - now())::bigint AS n FROM competitive_briefs");
    let generator = generator(&app, false);

    assert!(generator.generate_next(&t.tenant).await.unwrap(), "attempt 1 ran");
    let (_, brief, _) = app.get_json(&t, &cookie, &format!("/api/briefs/{id}")).await;
    assert_eq!(brief["summary"]["status"], "queued", "{brief}");
    assert!((8..=10).contains(&wait().await), "retried after about 10 s");
    assert!(!generator.generate_next(&t.tenant).await.unwrap(), "not before its time");

    lease_passes(&app, &t).await;
    assert!(generator.generate_next(&t.tenant).await.unwrap(), "attempt 2 ran when due");
    assert!((18..=20).contains(&wait().await), "then after about 20 s");

    lease_passes(&app, &t).await;
    assert!(generator.generate_next(&t.tenant).await.unwrap(), "attempt 3 ran");
    let (_, brief, _) = app.get_json(&t, &cookie, &format!("/api/briefs/{id}")).await;
    assert_eq!(brief["summary"]["status"], "failed", "{brief}");
    assert!(brief["summary"]["error"].as_str().unwrap().contains("was removed"), "{brief}");
    assert!(!generator.generate_next(&t.tenant).await.unwrap(), "a failed brief is not claimed again");
}

#[tokio::test]
async fn the_pdf_names_the_target_every_competitor_and_the_threat_score() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let bytes = std::fs::read(YC).unwrap();
    service::import_companies(
        &app.db,
        &app.state.keyring,
        &t.tenant,
        AuditSource::command_line(),
        bytes,
        Default::default(),
        "yc",
    )
    .await
    .unwrap();
    let (_, created) = app.post_json(&t, &cookie, "/api/briefs", json!({"company": "Infracost"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(generator(&app, true).generate_next(&t.tenant).await.unwrap());
    let (_, brief, _) = app.get_json(&t, &cookie, &format!("/api/briefs/{id}")).await;
    let threat = brief["content"]["threat"]["score"].as_f64().unwrap();
    let names: Vec<String> = brief["competitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["company"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 10);

    let response = app.get(&t.host, &format!("/api/briefs/{id}/pdf"), Some(&cookie)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers[axum::http::header::CONTENT_TYPE], "application/pdf");
    let file = std::env::temp_dir().join(format!("brief-{id}.pdf"));
    std::fs::write(&file, &response.bytes).unwrap();
    let output =
        std::process::Command::new("pdftotext").arg("-layout").arg(&file).arg("-").output().expect("pdftotext runs");
    std::fs::remove_file(&file).ok();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("Infracost"));
    assert!(text.contains(&format!("Competitive threat score: {threat:.0} / 100")), "{text}");
    for name in &names {
        assert!(text.contains(name.as_str()), "{name} missing from the PDF");
    }
    let audit = app.audit_actions(&t.tenant).await;
    assert!(audit.iter().any(|(action, target, _)| action == "brief.exported" && target == "Infracost"));
    assert!(audit.iter().any(|(action, _, _)| action == "brief.viewed"));
}

#[tokio::test]
async fn analysts_see_only_their_own_briefs_read_only_members_see_all_but_cannot_export() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    import(
        &app,
        &app.state.keyring.clone(),
        &t,
        &[json!({"name": "Acme", "one_liner": "Rockets"}), json!({"name": "Boom", "one_liner": "Rockets and jets"})],
    )
    .await;
    // Accounts are global: fresh addresses, so the test can run again on the same database.
    let email = |who: &str| format!("{who}-{}@example.com", uuid::Uuid::new_v4().simple());
    let (_, analyst) = app.member(&t, &admin, &email("ana"), Role::Developer).await;
    let (_, viewer) = app.member(&t, &admin, &email("vic"), Role::Viewer).await;
    let (_, principal) = app.member(&t, &admin, &email("pat"), Role::Maintainer).await;

    let (_, created) = app.post_json(&t, &admin, "/api/briefs", json!({"company": "Acme"})).await;
    let admins = created["id"].as_str().unwrap().to_owned();
    let (status, created) = app.post_json(&t, &analyst, "/api/briefs", json!({"company": "Boom"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let analysts = created["id"].as_str().unwrap().to_owned();
    let (status, _) = app.post_json(&t, &viewer, "/api/briefs", json!({"company": "Boom"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "read-only members do not generate");
    let generator = generator(&app, true);
    while generator.generate_next(&t.tenant).await.unwrap() {}

    let listed = |cookie: String| {
        let (app, t) = (&app, &t);
        async move {
            let (_, list, _) = app.get_json(t, &cookie, "/api/briefs").await;
            list["items"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(analyst.clone()).await, std::slice::from_ref(&analysts));
    assert_eq!(listed(viewer.clone()).await.len(), 2);
    assert_eq!(app.get_json(&t, &analyst, &format!("/api/briefs/{admins}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&t.host, &format!("/api/briefs/{admins}/pdf"), Some(&analyst)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&t.host, &format!("/api/briefs/{analysts}/pdf"), Some(&analyst)).await.status, StatusCode::OK);
    assert_eq!(app.get_json(&t, &viewer, &format!("/api/briefs/{admins}")).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&t.host, &format!("/api/briefs/{admins}/pdf"), Some(&viewer)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get(&t.host, &format!("/api/briefs/{analysts}/pdf"), Some(&principal)).await.status, StatusCode::OK);

    // Another tenant's admin finds nothing.
    let (other, other_admin) = app.signed_in_tenant().await;
    assert_eq!(app.get_json(&other, &other_admin, &format!("/api/briefs/{admins}")).await.0, StatusCode::NOT_FOUND);
}

fn embedder(app: &TestApp) -> app::embedding::worker::EmbeddingWorker {
    let model = app.state.embedder.clone().expect("BEACON_EMBEDDING_MODEL (set by scripts/test.sh)");
    app::embedding::worker::EmbeddingWorker::new(app.db.clone(), model)
}

/// The worker embeds each distinct text once, briefs then see the meaning of texts that share
/// no word, and a text nothing uses any more loses its stored vector.
#[tokio::test(flavor = "multi_thread")]
async fn embeddings_find_a_competitor_that_shares_no_word_and_follow_edits() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let keyring = app.state.keyring.clone();
    import(
        &app,
        &keyring,
        &t,
        &[
            json!({"name": "Target", "one_liner": "Developer portal listing every microservice and its owner", "subindustry": "B2B -> Engineering"}),
            json!({"name": "Catalogue", "one_liner": "A software catalog so engineers know who owns which backend service", "subindustry": "B2B -> Sales"}),
            json!({"name": "Twin", "one_liner": "A software catalog so engineers know who owns which backend service", "subindustry": "B2B -> Sales"}),
            json!({"name": "Bakery", "one_liner": "Fresh sourdough bread delivered at dawn", "subindustry": "Consumer -> Food"}),
        ],
    )
    .await;
    let worker = embedder(&app);
    assert_eq!(worker.catch_up(&t.tenant, 2).await.unwrap(), 3, "the twins' text is embedded once");
    assert_eq!(count(&app, &t, "SELECT count(*) AS n FROM text_embeddings").await, 3);
    assert_eq!(worker.catch_up(&t.tenant, 2).await.unwrap(), 0, "nothing left to do");

    let target = repo_company(&app, &t, "Target").await;
    let (found, _, _) =
        service::discover(&app.db, &app.state.briefs.indexes, None, &t.tenant, &target, 2026).await.unwrap();
    let names: Vec<&str> = found.iter().take(2).map(|c| c.company.name.as_str()).collect();
    assert_eq!(names, ["Catalogue", "Twin"], "{found:?}");
    let semantic = found[0].contributions.iter().find(|c| c.feature == app::briefs::model::Feature::Semantic).unwrap();
    assert!(semantic.value > 0.4, "{semantic:?}");
    assert!(found[0].why.contains("similar meaning (embedding similarity"), "{}", found[0].why);
    let sum: f64 = found[0].contributions.iter().map(|c| c.points).sum();
    assert!((sum - found[0].score).abs() < 1e-9);
    let bakery = found.iter().find(|c| c.company.name == "Bakery").map_or(0.0, |c| c.score);
    assert!(bakery < found[0].score / 3.0, "{bakery}");

    // The bakery's text changes: its new text is embedded and the old vector forgotten.
    let edited = Company {
        id: company_id(&app, &t, "Bakery").await,
        name: "Bakery".into(),
        one_liner: Some("Bread subscriptions for cafés".into()),
        ..Company::default()
    };
    service::save_company(&app.db, &keyring, &t.tenant, AuditSource::command_line(), edited, Sensitive::default())
        .await
        .unwrap();
    assert_eq!(worker.catch_up(&t.tenant, 1).await.unwrap(), 1);
    assert_eq!(count(&app, &t, "SELECT count(*) AS n FROM text_embeddings").await, 3);
}

async fn repo_company(app: &TestApp, t: &TestTenant, name: &str) -> Company {
    let id = company_id(app, t, name).await;
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move { repo::company(conn, id).await.map_err(AppError::from) })
        })
        .await
        .unwrap()
        .unwrap()
}
