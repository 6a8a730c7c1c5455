//! Streaming the audit log to a SIEM: a receiver on loopback gets every event (once, after
//! de-duplication by id), every request's signature verifies, and a receiver that was down gets
//! the backlog when it comes back.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::support::{TestApp, TestTenant};
use app::audit::model::AuditAction;
use app::audit::service::{record_alone, AuditEvent, AuditSource};
use app::audit::stream::{self, NewDestination, Sender, BATCH};
use app::audit::stream_model::StreamsOverview;
use app::auth::model::Role;
use app::error::AppError;
use app::fetch::FetchPolicy;

/// A webhook receiver on loopback that keeps every request and can play dead.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(HeaderMap, Bytes, bool)>>>,
    down: Arc<AtomicBool>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let down = state.down.load(Ordering::SeqCst);
                    state.received.lock().unwrap().push((headers, body, !down));
                    if down {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The ids of the events of every accepted request, each time it came, after checking
    /// every request's signature with `secret`.
    fn accepted_ids(&self, secret: &str, tenant: &str) -> Vec<i64> {
        let mut ids = Vec::new();
        for (headers, body, accepted) in self.received.lock().unwrap().iter() {
            let signature = headers["beacon-signature"].to_str().unwrap();
            let t: i64 = signature.strip_prefix("t=").unwrap().split(',').next().unwrap().parse().unwrap();
            let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap();
            assert_eq!(signature, stream::signature(secret.as_bytes(), at, body), "the signature verifies");
            assert!((Utc::now() - at).num_seconds().abs() < 600, "signed just now");
            assert!(headers.contains_key("beacon-delivery"));
            let batch: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(batch["tenant"], tenant);
            let events = batch["events"].as_array().unwrap();
            assert!(!events.is_empty() && events.len() as i64 <= BATCH);
            if *accepted {
                ids.extend(events.iter().map(|e| e["id"].as_i64().unwrap()));
            }
        }
        ids
    }
}

fn sender(app: &TestApp) -> Sender {
    Sender {
        db: app.db.clone(),
        keyring: app.state.keyring.clone(),
        policy: app.state.fetch_policy.clone(),
        wake: Default::default(),
    }
}

async fn chained_ids(app: &TestApp, t: &TestTenant) -> HashSet<i64> {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(
                async move { app::audit::repo::chain_from(conn, 0, i64::MAX, 100_000).await.map_err(AppError::from) },
            )
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect()
}

async fn overview(app: &TestApp, t: &TestTenant, admin: &str) -> StreamsOverview {
    app.call(&t.host, "/api/ui/audit/streams", &[], Some(admin)).await.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_gets_every_event_signed_and_the_backlog_after_an_outage() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let slug = t.tenant.slug.to_string();
    let (receiver, url) = Receiver::start().await;
    for i in 0..(BATCH + 30) {
        let event = AuditEvent::success(AuditAction::AuditVerified, format!("filler {i}"));
        record_alone(&app.db, &t.tenant, AuditSource::command_line(), event).await.unwrap();
    }
    let form = [("name", "SIEM"), ("url", url.as_str()), ("from_start", "true")];
    let added = app.call(&t.host, "/api/ui/audit/streams/add", &form, Some(&admin)).await;
    assert!(added.status.is_success(), "{}", added.body);
    let shown = overview(&app, &t, &admin).await;
    let secret = shown.revealed.expect("the secret is shown once").secret;
    assert!(overview(&app, &t, &admin).await.revealed.is_none());
    assert!(shown.destinations[0].backlog > BATCH, "the whole log waits: {:?}", shown.destinations[0]);

    // Everything so far, in batches of at most BATCH, every one signed.
    let sender = sender(&app);
    let confirmed = sender.deliver_due(&t.tenant, Utc::now()).await.unwrap();
    let all = chained_ids(&app, &t).await;
    assert_eq!(confirmed, all.len());
    assert!(receiver.requests() >= 2, "more than one batch");
    let received = receiver.accepted_ids(&secret, &slug);
    assert_eq!(received.iter().copied().collect::<HashSet<_>>(), all);
    assert_eq!(received.len(), all.len(), "nothing twice while the receiver answers");
    assert_eq!(sender.deliver_due(&t.tenant, Utc::now()).await.unwrap(), 0, "nothing new");

    // The receiver goes down while events happen: the attempt is logged and retried later.
    receiver.down.store(true, Ordering::SeqCst);
    app.member(&t, &admin, &format!("late@{slug}.example.com"), Role::Viewer).await;
    let before = receiver.requests();
    assert_eq!(sender.deliver_due(&t.tenant, Utc::now()).await.unwrap(), 0);
    assert_eq!(receiver.requests(), before + 1);
    let state = &overview(&app, &t, &admin).await.destinations[0];
    assert_eq!(state.failures, 1);
    assert!(state.backlog > 0);
    assert_eq!(state.deliveries[0].status, Some(503));
    assert!(!state.deliveries[0].succeeded());
    assert!(state.last_error.as_deref().unwrap_or_default().contains("503"));
    // Not due again before the backoff has passed.
    assert_eq!(sender.deliver_due(&t.tenant, Utc::now()).await.unwrap(), 0);
    assert_eq!(receiver.requests(), before + 1, "no attempt before the backoff");

    // Back up: the backlog arrives, and after de-duplication every event came once.
    receiver.down.store(false, Ordering::SeqCst);
    let later = Utc::now() + chrono::Duration::minutes(1);
    assert!(sender.deliver_due(&t.tenant, later).await.unwrap() > 0);
    let all = chained_ids(&app, &t).await;
    let received = receiver.accepted_ids(&secret, &slug);
    assert_eq!(received.iter().copied().collect::<HashSet<_>>(), all);
    assert_eq!(received.len(), all.len());
    let state = &overview(&app, &t, &admin).await.destinations[0];
    assert_eq!((state.failures, state.backlog), (0, 0), "{state:?}");
    assert!(state.deliveries[0].succeeded());

    // Removing the destination is audited and stops the stream.
    let id = state.id.to_string();
    let removed = app.call(&t.host, "/api/ui/audit/streams/remove", &[("id", &id)], Some(&admin)).await;
    assert!(removed.status.is_success(), "{}", removed.body);
    assert!(overview(&app, &t, &admin).await.destinations.is_empty());
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.iter().any(|(a, target, _)| a == "audit.stream_added" && target == "SIEM"));
    assert!(actions.iter().any(|(a, target, _)| a == "audit.stream_removed" && target == "SIEM"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_destination_starts_from_now_and_production_sends_over_https_only() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let (receiver, url) = Receiver::start().await;
    let form = [("name", "From now"), ("url", url.as_str())];
    assert!(app.call(&t.host, "/api/ui/audit/streams/add", &form, Some(&admin)).await.status.is_success());
    let secret = overview(&app, &t, &admin).await.revealed.unwrap().secret;
    // Only what was committed after it: its own creation, then the invitation and sign-in.
    app.member(&t, &admin, &format!("new@{}.example.com", t.tenant.slug), Role::Viewer).await;
    sender(&app).deliver_due(&t.tenant, Utc::now()).await.unwrap();
    let received = receiver.accepted_ids(&secret, &t.tenant.slug.to_string());
    assert!(!received.is_empty());
    let first_after_creation = overview(&app, &t, &admin).await.destinations[0].deliveries.last().unwrap().first_seq;
    assert!(first_after_creation > 1);

    let production = FetchPolicy { allow_private_networks: false };
    let plain = NewDestination { name: "plain", url: "http://siem.example.com/hook", from_start: false };
    let refused =
        stream::add(&app.db, &app.state.keyring, &production, &t.tenant, AuditSource::command_line(), plain).await;
    assert!(matches!(refused, Err(AppError::Invalid(ref m)) if m.contains("https")), "{refused:?}");
    let bad = [("name", "x"), ("url", "ftp://example.com")];
    assert_eq!(
        app.call(&t.host, "/api/ui/audit/streams/add", &bad, Some(&admin)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
