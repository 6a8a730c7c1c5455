//! `server bench --audit-events N`: a scratch tenant with N synthetic audit events (90 days of a
//! busy tenant: mostly sign-ins, imports and token requests, a few permission and security
//! changes, 3% failures, a few thousand addresses), then every audit page filter through the
//! real router with an API key, the audit page itself with a session, an export's throughput
//! and memory, and the chain: recording and verification rates.

use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use diesel_async::SimpleAsyncConnection;
use futures_util::StreamExt;

use super::bench::{print_row, sample};
use super::bench_edge::Client;
use app::access::service::{self as access, NewKey};
use app::audit::model::AuditAction;
use app::audit::service::{self, AuditEvent, AuditSource};
use app::audit::verify;
use app::auth::service as auth;
use app::db::Database;
use app::error::AppError;
use app::keyring::Keyring;
use app::tenancy::model::Tenant;

/// Actions and how many of every 40 events are of them; the rare ones are added apart.
const MIX: [(AuditAction, usize); 10] = [
    (AuditAction::AuthLogin, 14),
    (AuditAction::CatalogEntitiesImported, 9),
    (AuditAction::OauthToken, 6),
    (AuditAction::AuthLogout, 4),
    (AuditAction::MfaVerify, 2),
    (AuditAction::ApiKeyFirstUsed, 1),
    (AuditAction::SessionRevoked, 1),
    (AuditAction::CatalogEntityDeleted, 1),
    (AuditAction::CatalogLocationRegistered, 1),
    (AuditAction::UserInvited, 1),
];
/// One in this many events is a role change, one in ten times as many an SSO provider added.
const RARE: i64 = 1_000;
const ACTORS: i64 = 500;
const BATCH: i64 = 50_000;

pub async fn run(
    db: &Database,
    tenant: &Tenant,
    admin: (&str, &str),
    events: i64,
    chained: i64,
    samples: usize,
) -> Result<(), AppError> {
    let started = Instant::now();
    load(db, tenant, events).await?;
    println!(
        "loaded {events} synthetic events in {:.1} s ({:.0}/s, indexes maintained)",
        started.elapsed().as_secs_f64(),
        events as f64 / started.elapsed().as_secs_f64()
    );
    // VACUUM, not only ANALYZE: a bulk load leaves the visibility map empty and every month's
    // word-index pending list full, which a tenant's log never shows once autovacuum has passed;
    // measuring before it would time the load, not the log.
    let vacuumed = Instant::now();
    db.vacuum(tenant, "audit_events").await?;
    db.with_tenant(tenant, |conn| {
        Box::pin(async move { conn.batch_execute("ANALYZE audit_events").await.map_err(AppError::from) })
    })
    .await?;
    println!(
        "vacuumed and analysed in {:.1} s (what autovacuum does after a bulk load)",
        vacuumed.elapsed().as_secs_f64()
    );

    let me = auth::find_principal(db, tenant, admin.0).await?.ok_or_else(|| AppError::internal("admin not found"))?;
    let key = access::create_key(
        db,
        tenant,
        AuditSource::command_line(),
        &me,
        NewKey::parse("bench", &["audit:read".into()], "30")?,
    )
    .await?
    .secret;
    let client = Client::connect(db, tenant).await?;
    let api_key = (header::HeaderName::from_static("x-api-key"), key.as_str());

    println!(
        "{:<52} {:>9} {:>9} {:>9} {:>9}",
        "GET /api/audit (API key, 50 a page)", "cold ms", "p50 ms", "p95 ms", "max ms"
    );
    let day = |days_ago: i64| (chrono::Utc::now() - chrono::Duration::days(days_ago)).format("%Y-%m-%d").to_string();
    let window = format!("from={}&to={}", day(61), day(60));
    let cases: Vec<(&str, String)> = vec![
        ("newest, no filter", String::new()),
        ("action=auth.login (35%)", "action=auth.login".into()),
        ("action=user.role_changed (0.1%)", "action=user.role_changed".into()),
        ("severity=critical (0.01%)", "severity=critical".into()),
        ("severity=high", "severity=high".into()),
        ("outcome=failure (3%)", "outcome=failure".into()),
        ("actor=member7@…", "actor=member7%40bench.example.com".into()),
        ("target=component:default/service-42", "target=component%3Adefault%2Fservice-42".into()),
        ("ip=10.1.0.0/16", "ip=10.1.0.0%2F16".into()),
        ("one day, 60 days ago", window.clone()),
        ("one day + action=auth.login + failure", format!("{window}&action=auth.login&outcome=failure")),
        ("q=service-4242 (free text, 0.005%)", "q=service-4242".into()),
        ("q=member104 (free text, one person: 0.2%)", "q=member104".into()),
        ("q=example (free text, in every event)", "q=example".into()),
        ("q=member104 + one day, 60 days ago", format!("{window}&q=member104")),
        (
            "actor + outcome=failure + severity=low",
            "actor=member7%40bench.example.com&outcome=failure&severity=low".into(),
        ),
    ];
    for (label, filter) in &cases {
        let path = format!("/api/audit?limit=50&{filter}");
        let timings = sample(samples, || client.get(&path, api_key.clone())).await?;
        print_row(label, &timings);
    }
    for filter in ["action=auth.login", "q=member104"] {
        let timings = pages_deep(&client, &format!("/api/audit?limit=50&{filter}"), api_key.clone()).await?;
        match timings.1.is_empty() {
            true => println!("cursor pages of {filter}: one page only at this size"),
            false => print_row(&format!("cursor pages 2–10 of {filter}"), &timings),
        }
    }

    let cookie = client.sign_in(admin.0, admin.1).await?;
    let session = (header::COOKIE, cookie.as_str());
    for (label, path) in [
        ("SSR /audit page (HTML), no filter", "/audit".to_owned()),
        ("SSR /audit?severity=high", "/audit?severity=high".to_owned()),
    ] {
        let timings = sample(samples, || client.get(&path, session.clone())).await?;
        print_row(label, &timings);
    }

    let rss_before = rss_kib();
    let begun = Instant::now();
    let (rows, bytes, peak) = export(&client, "/api/audit/export?format=ndjson&severity=high", api_key.clone()).await?;
    let took = begun.elapsed().as_secs_f64();
    println!(
        "export NDJSON severity=high: {rows} events, {:.0} MiB in {took:.1} s ({:.0} events/s); RSS {} MiB before, {} MiB at most while streaming",
        bytes as f64 / 1_048_576.0,
        rows as f64 / took,
        rss_before / 1024,
        peak / 1024
    );

    let keyring = Keyring::parse(
        &std::env::var("BEACON_SECRET_KEYS").map_err(|_| AppError::invalid("BEACON_SECRET_KEYS is not set"))?,
    )?;
    let begun = Instant::now();
    record_chained(db, tenant, chained).await?;
    let took = begun.elapsed().as_secs_f64();
    println!("recorded {chained} chained events in {took:.1} s ({:.0}/s, 500 per transaction)", chained as f64 / took);
    service::checkpoint(db, tenant, &keyring).await?;
    let begun = Instant::now();
    let report = verify::verify(db, tenant, &keyring).await?;
    let took = begun.elapsed().as_secs_f64();
    println!(
        "verify: walked {} chained events in {took:.1} s ({:.0}/s); it reports: {} (the synthetic events were \
         bulk-loaded around the app, so they are rightly not in the chain)",
        report.events_checked,
        report.events_checked as f64 / took,
        report.summary(),
    );
    Ok(())
}

/// Ten pages of `path` by cursor, each timed: the first, and pages 2–10 sorted.
async fn pages_deep(
    client: &Client,
    path: &str,
    api_key: (header::HeaderName, &str),
) -> Result<(Duration, Vec<Duration>), AppError> {
    let mut cursor: Option<String> = None;
    let mut deep = Vec::new();
    for _ in 0..10 {
        let page_path = match &cursor {
            None => path.to_owned(),
            Some(c) => format!("{path}&cursor={c}"),
        };
        let begun = Instant::now();
        let body = client.get_bytes(&page_path, api_key.clone()).await?;
        deep.push(begun.elapsed());
        let page: serde_json::Value = serde_json::from_slice(&body).map_err(AppError::internal)?;
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let first = deep.remove(0);
    deep.sort();
    Ok((first, deep))
}

/// Synthetic events in batches of plain SQL, oldest first, ids in time order as the app writes them.
async fn load(db: &Database, tenant: &Tenant, events: i64) -> Result<(), AppError> {
    let mut actions: Vec<AuditAction> = Vec::new();
    for (action, weight) in MIX {
        actions.extend(std::iter::repeat_n(action, weight));
    }
    let names = actions.iter().map(|a| format!("'{}'", a.as_str())).collect::<Vec<_>>().join(",");
    let severities = actions.iter().map(|a| format!("'{}'", a.severity().as_str())).collect::<Vec<_>>().join(",");
    let span = Duration::from_secs(90 * 24 * 3600).as_micros() as i64;
    let step = (span / events.max(1)).max(1);
    // The months the history spans (a new tenant has only the current month and the next two).
    db.with_tenant(tenant, |conn| {
        Box::pin(async move {
            let now = chrono::Utc::now();
            app::audit::archive_repo::ensure_months(conn, now - chrono::Duration::days(91), now)
                .await
                .map_err(AppError::from)
        })
    })
    .await?;
    let mut from = 0;
    while from < events {
        let to = (from + BATCH).min(events) - 1;
        let sql = format!(
            "INSERT INTO audit_events (occurred_at, actor, action, target, outcome, severity, ip, user_agent, request_id, details)
             SELECT start + (g * {step}) * interval '1 microsecond', actor,
                    CASE WHEN h % {RARE} = 0 THEN 'user.role_changed' WHEN h % {ten_rare} = 1 THEN 'sso.provider_added' ELSE (ARRAY[{names}])[1 + h % {n}] END,
                    CASE WHEN (ARRAY[{names}])[1 + h % {n}] LIKE 'catalog.%' THEN 'component:default/service-' || (h2 % 20000) ELSE actor END,
                    CASE WHEN h2 % 33 = 0 THEN 'failure' ELSE 'success' END,
                    CASE WHEN h % {RARE} = 0 THEN 'high' WHEN h % {ten_rare} = 1 THEN 'critical' ELSE (ARRAY[{severities}])[1 + h % {n}] END,
                    '10.' || (h2 % 4) || '.' || (h3 % 256) || '.' || (h % 200), 'Mozilla/5.0 (X11; Linux x86_64) bench',
                    substr(md5(g::text), 1, 12), jsonb_build_object('batch', g % 97)
               FROM generate_series({from}::bigint, {to}::bigint) AS g,
                    LATERAL (SELECT abs(hashint8(g)::bigint) AS h, abs(hashint8(g + 7919)::bigint) AS h2, abs(hashint8(g + 104729)::bigint) AS h3) AS r,
                    LATERAL (SELECT 'member' || (r.h3 % {ACTORS}) || '@bench.example.com' AS actor) AS a,
                    (SELECT now() - interval '90 days' AS start) AS s",
            ten_rare = RARE * 10,
            n = actions.len(),
        );
        db.with_tenant(tenant, move |conn| {
            Box::pin(async move { conn.batch_execute(&sql).await.map_err(AppError::from) })
        })
        .await?;
        from = to + 1;
    }
    Ok(())
}

/// Real events through the one audit call, 500 per transaction (an import batch's shape).
async fn record_chained(db: &Database, tenant: &Tenant, count: i64) -> Result<(), AppError> {
    let mut written = 0;
    while written < count {
        let this_batch = (count - written).min(500);
        db.with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let source = AuditSource {
                    actor: "member1@bench.example.com".into(),
                    ip: Some("10.0.0.1".into()),
                    ..AuditSource::default()
                };
                for i in 0..this_batch {
                    let event = AuditEvent::success(
                        AuditAction::CatalogEntitiesImported,
                        format!("component:default/chained-{}", written + i),
                    )
                    .details(serde_json::json!({ "created": 1 }));
                    service::record(conn, &source, event).await?;
                }
                Ok::<_, AppError>(())
            })
        })
        .await?;
        written += this_batch;
    }
    Ok(())
}

/// Streams an export without keeping it: (lines, bytes, the highest RSS seen in KiB).
async fn export(
    client: &Client,
    path: &str,
    credential: (header::HeaderName, &str),
) -> Result<(u64, u64, u64), AppError> {
    let response = client.stream(path, credential).await?;
    if response.status() != StatusCode::OK {
        return Err(AppError::internal(format!("GET {path}: {}", response.status())));
    }
    let mut body = response.into_body().into_data_stream();
    let (mut lines, mut bytes, mut peak) = (0u64, 0u64, rss_kib());
    let mut chunks = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(AppError::internal)?;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bytes += chunk.len() as u64;
        chunks += 1;
        if chunks.is_multiple_of(50) {
            peak = peak.max(rss_kib());
        }
    }
    Ok((lines, bytes, peak.max(rss_kib())))
}

/// This process's resident memory, from /proc (0 where there is none).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
