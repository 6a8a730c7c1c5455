//! Outbound webhooks: a receiver on loopback verifies every delivery with the
//! `standardwebhooks` Python library (not our code), failures are retried after the backoff
//! with the same `webhook-id`, a redelivery arrives again, and a webhook failing for a day is
//! turned off with the admins told.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::support::{TestApp, TestTenant};
use app::auth::model::Role;
use app::notifications::model::NotificationsPage;
use app::webhooks::model::{WebhookView, WebhooksOverview};
use app::webhooks::sender::WebhookSender;

/// The Python receiver (`server/tests/webhooks/receiver.py`), stopped when dropped.
struct Receiver {
    child: Child,
    port: u16,
}

impl Receiver {
    fn start() -> Self {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut child = Command::new(format!("{root}/.beacon/webhook-venv/bin/python"))
            .arg(format!("{root}/server/tests/webhooks/receiver.py"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the webhook-venv of scripts/setup.sh");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        Receiver { child, port: line.trim().parse().expect("the receiver prints its port") }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    async fn control(&self, control: Value) {
        let url = format!("http://127.0.0.1:{}/control", self.port);
        let answer = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(control.to_string())
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }

    async fn received(&self) -> Vec<Value> {
        let url = format!("http://127.0.0.1:{}/received", self.port);
        let answer = reqwest::Client::new().get(url).send().await.unwrap().bytes().await.unwrap();
        serde_json::from_slice(&answer).unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sender(app: &TestApp) -> WebhookSender {
    WebhookSender {
        db: app.db.clone(),
        keyring: app.state.keyring.clone(),
        policy: app.state.fetch_policy.clone(),
        due: Default::default(),
    }
}

async fn overview(app: &TestApp, t: &TestTenant, admin: &str) -> WebhooksOverview {
    let answer = app.call(&t.host, "/api/ui/webhooks", &[], Some(admin)).await;
    assert!(answer.status.is_success(), "{} {}", answer.status, answer.body);
    answer.json()
}

async fn webhook(app: &TestApp, t: &TestTenant, admin: &str) -> WebhookView {
    overview(app, t, admin).await.webhooks.remove(0)
}

/// Adds a webhook for audit events to `url`; its secret.
async fn add(app: &TestApp, t: &TestTenant, admin: &str, name: &str, url: &str) -> String {
    let form = [("name", name), ("url", url), ("kinds[0]", "audit:recorded")];
    let added = app.call(&t.host, "/api/ui/webhooks/add", &form, Some(admin)).await;
    assert!(added.status.is_success(), "{} {}", added.status, added.body);
    let shown = overview(app, t, admin).await;
    assert!(overview(app, t, admin).await.revealed.is_none(), "the secret is shown once");
    shown.revealed.expect("the secret is shown after adding").secret
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_verify_independently_failures_are_retried_and_redelivery_works() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let receiver = Receiver::start();
    let secret = add(&app, &t, &admin, "Ops", &receiver.url()).await;
    receiver.control(json!({ "secret": secret, "fail": 1 })).await;
    // The webhook's own creation is an audit event it receives; an invitation makes more.
    app.member(&t, &admin, &format!("dev@{}.example.com", t.tenant.slug), Role::Developer).await;
    let queued = webhook(&app, &t, &admin).await.pending;
    assert!(queued >= 2, "{queued} deliveries queued");

    let now = Utc::now();
    let sender = sender(&app);
    assert_eq!(sender.deliver_due(&t.tenant, now).await.unwrap() as i64, queued);
    let received = receiver.received().await;
    assert_eq!(received.len() as i64, queued);
    assert!(received.iter().all(|r| r["verified"] == true), "every signature verifies: {received:?}");
    let failed: Vec<&Value> = received.iter().filter(|r| r["status"] == 503).collect();
    assert_eq!(failed.len(), 1, "the receiver failed one");
    let failed_id = failed[0]["id"].as_str().unwrap().to_owned();
    let bodies: Vec<&Value> = received.iter().map(|r| &r["body"]).collect();
    assert!(bodies.iter().all(|b| b["type"] == "audit:recorded" && b["data"]["action"].is_string()));
    assert!(bodies.iter().any(|b| b["data"]["action"] == "user.invited"), "{bodies:?}");

    // The failure is logged and not retried before its backoff.
    let shown = webhook(&app, &t, &admin).await;
    assert_eq!(shown.pending, 1);
    let retrying = shown.deliveries.iter().find(|d| d.state() == "retrying").expect("one delivery retries");
    assert_eq!(format!("msg_{}", retrying.id.simple()), failed_id);
    assert_eq!(retrying.log[0].status, Some(503));
    assert!(retrying.log[0].request_headers.iter().any(|(name, _)| name == "webhook-signature"));
    let wait = retrying.next_attempt_at - now;
    assert!(wait >= Duration::seconds(29) && wait <= Duration::seconds(31), "30 s backoff: {wait}");
    assert_eq!(sender.deliver_due(&t.tenant, now).await.unwrap(), 0, "not due yet");

    // After the backoff it arrives, with the same webhook-id (receivers de-duplicate by it).
    assert_eq!(sender.deliver_due(&t.tenant, now + Duration::seconds(31)).await.unwrap(), 1);
    let received = receiver.received().await;
    let last = received.last().unwrap();
    assert_eq!((last["id"].as_str().unwrap(), last["status"].as_i64()), (failed_id.as_str(), Some(200)));
    let shown = webhook(&app, &t, &admin).await;
    assert_eq!((shown.pending, shown.failing_since), (0, None));
    let delivered = shown.deliveries.iter().find(|d| format!("msg_{}", d.id.simple()) == failed_id).unwrap();
    assert_eq!((delivered.state(), delivered.attempts, delivered.log.len()), ("delivered", 2, 2));
    assert!(delivered.log[1].succeeded());
    assert!(delivered.log[1].response_body.as_deref().unwrap_or_default().contains("verified"));

    // Redeliver: sent again now with the same id.
    let id = delivered.id.to_string();
    let again = app.call(&t.host, "/api/ui/webhooks/redeliver", &[("delivery", &id)], Some(&admin)).await;
    assert!(again.status.is_success(), "{}", again.body);
    let before = receiver.received().await.len();
    // The redelivery itself is audited, which makes one more delivery: both go now.
    assert_eq!(sender.deliver_due(&t.tenant, Utc::now()).await.unwrap(), 2);
    let received = receiver.received().await;
    assert_eq!(received.len(), before + 2);
    assert!(received[before..].iter().any(|r| r["id"] == failed_id.as_str() && r["status"] == 200));

    // A receiver holding another secret refuses: the verification is real.
    receiver.control(json!({ "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" })).await;
    let webhook_id = shown.id.to_string();
    let ping = app.call(&t.host, "/api/ui/webhooks/ping", &[("id", &webhook_id)], Some(&admin)).await;
    assert!(ping.status.is_success(), "{}", ping.body);
    sender.deliver_due(&t.tenant, Utc::now()).await.unwrap();
    let received = receiver.received().await;
    assert!(received.iter().rev().take(2).all(|r| r["verified"] == false && r["status"] == 401), "{received:?}");

    let actions = app.audit_actions(&t.tenant).await;
    for action in ["webhook.added", "webhook.redelivered"] {
        assert!(actions.iter().any(|(a, target, _)| a == action && target == "Ops"), "{action} audited");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_failing_for_a_day_is_turned_off_and_the_admins_are_told() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let receiver = Receiver::start();
    let secret = add(&app, &t, &admin, "Flaky", &receiver.url()).await;
    receiver.control(json!({ "secret": secret, "fail": 1000 })).await;
    let sender = sender(&app);
    let start = Utc::now();
    assert!(sender.deliver_due(&t.tenant, start).await.unwrap() >= 1);
    let shown = webhook(&app, &t, &admin).await;
    assert!(shown.enabled && shown.failing_since.is_some(), "failing, still on: {shown:?}");

    // A day later, still failing: the deliveries are given up and the webhook turned off.
    let later = start + Duration::hours(25);
    assert!(sender.deliver_due(&t.tenant, later).await.unwrap() >= 1);
    let shown = webhook(&app, &t, &admin).await;
    assert!(!shown.enabled, "{shown:?}");
    assert!(shown.disabled_reason.as_deref().unwrap_or_default().contains("503"), "{shown:?}");
    assert!(shown.deliveries.iter().all(|d| d.state() == "gave up"), "{:?}", shown.deliveries);
    let page: NotificationsPage = app.call(&t.host, "/api/notifications", &[], Some(&admin)).await.json();
    assert!(page.items.iter().any(|n| n.title == "The webhook Flaky was turned off"), "{:?}", page.items);
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.iter().any(|(a, target, _)| a == "webhook.disabled" && target == "Flaky"));

    // Turned off, it queues nothing; turned on again, it starts afresh.
    app.member(&t, &admin, &format!("quiet@{}.example.com", t.tenant.slug), Role::Viewer).await;
    assert_eq!(webhook(&app, &t, &admin).await.pending, 0);
    let id = shown.id.to_string();
    let on = app.call(&t.host, "/api/ui/webhooks/enable", &[("id", &id), ("enabled", "true")], Some(&admin)).await;
    assert!(on.status.is_success(), "{}", on.body);
    let shown = webhook(&app, &t, &admin).await;
    assert!(shown.enabled && shown.failing_since.is_none() && shown.disabled_reason.is_none());
    assert_eq!(shown.pending, 1, "its own turning on is an audit event it receives");
    assert!(app.audit_actions(&t.tenant).await.iter().any(|(a, ..)| a == "webhook.changed"));
}

#[tokio::test]
async fn only_admins_of_the_tenant_manage_webhooks_and_bad_input_is_refused() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let (other, other_admin) = app.signed_in_tenant().await;
    let receiver = Receiver::start();
    add(&app, &t, &admin, "Mine", &receiver.url()).await;
    let mine = webhook(&app, &t, &admin).await;

    // Another tenant's admin cannot see, ping, redeliver or remove it.
    assert!(overview(&app, &other, &other_admin).await.webhooks.is_empty());
    let id = mine.id.to_string();
    for (path, field) in [("ping", "id"), ("remove", "id"), ("enable", "id")] {
        let mut form = vec![(field, id.as_str())];
        if path == "enable" {
            form.push(("enabled", "false"));
        }
        let answer = app.call(&other.host, &format!("/api/ui/webhooks/{path}"), &form, Some(&other_admin)).await;
        assert_eq!(answer.status.as_u16(), 404, "{path}: {}", answer.body);
    }
    let delivery = mine.deliveries[0].id.to_string();
    let answer =
        app.call(&other.host, "/api/ui/webhooks/redeliver", &[("delivery", &delivery)], Some(&other_admin)).await;
    assert_eq!(answer.status.as_u16(), 404);
    assert!(webhook(&app, &t, &admin).await.enabled);

    // A developer is refused; so is a visitor.
    let (_, dev) = app.member(&t, &admin, &format!("dev@{}.example.com", t.tenant.slug), Role::Developer).await;
    assert_eq!(app.call(&t.host, "/api/ui/webhooks", &[], Some(&dev)).await.status.as_u16(), 403);
    assert_eq!(app.call(&t.host, "/api/ui/webhooks", &[], None).await.status.as_u16(), 401);

    // Bad input: a clear 422 and nothing added.
    let url = receiver.url();
    for form in [
        vec![("name", "No kinds"), ("url", url.as_str())],
        vec![("name", "Unknown"), ("url", url.as_str()), ("kinds[0]", "notification:new")],
        vec![("name", "Ftp"), ("url", "ftp://example.com/x"), ("kinds[0]", "audit:recorded")],
        vec![("name", ""), ("url", url.as_str()), ("kinds[0]", "audit:recorded")],
    ] {
        let answer = app.call(&t.host, "/api/ui/webhooks/add", &form, Some(&admin)).await;
        assert_eq!(answer.status.as_u16(), 422, "{form:?}: {}", answer.body);
    }
    let nul = [("name", "Nul\0"), ("url", "https://exa\0mple.com"), ("kinds[0]", "audit:recorded")];
    let answer = app.call(&t.host, "/api/ui/webhooks/add", &nul, Some(&admin)).await;
    assert!(answer.status.is_client_error(), "{}: {}", answer.status, answer.body);
    assert_eq!(overview(&app, &t, &admin).await.webhooks.len(), 1);
}
