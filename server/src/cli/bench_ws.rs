//! `make bench ARGS="--sockets 1000"`: the fan-out of the event bus. Opens that many sockets
//! (`GET /api/ws`, each subscribed to the audit topic) on the server `scripts/bench.sh` runs,
//! publishes events from this process (another instance, as in production: they reach the
//! server through PostgreSQL's announcements), and measures what every socket receives: the
//! deliveries per second and the time from commit to a client holding the message.
//!
//! The clients run on the same two cores as the server, so the figures are a floor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::config::ServeConfig;
use app::access::service::{self as access, NewKey};
use app::audit::service::AuditSource;
use app::auth::service as auth;
use app::db::Database;
use app::error::AppError;
use app::events::bus::{self, Event};
use app::events::hub::SOCKETS_PER_CALLER;
use app::events::model::LiveMessage;
use app::tenancy::model::Tenant;

/// What every socket's reader adds to.
#[derive(Default)]
struct Received {
    /// Sockets that heard a probe: the server delivers to them.
    ready: AtomicUsize,
    deliveries: AtomicUsize,
    /// Commit to receipt, in microseconds, of every delivery.
    latencies: Mutex<Vec<u64>>,
    /// Sockets the server closed (too slow to keep up with the tenant's channel).
    closed: AtomicUsize,
}

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

pub async fn run(
    db: &Database,
    tenant: &Tenant,
    admin_email: &str,
    base: &str,
    sockets: usize,
    events: usize,
) -> Result<(), AppError> {
    let config = ServeConfig::from_env()?;
    let host = format!("{}.{}", tenant.slug, config.base_domain);
    let url = format!("{}/api/ws", base.trim_end_matches('/').replacen("http", "ws", 1));
    let me =
        auth::find_principal(db, tenant, admin_email).await?.ok_or_else(|| AppError::internal("admin not found"))?;
    let mut keys = Vec::new();
    for i in 0..sockets.div_ceil(SOCKETS_PER_CALLER) {
        let new = NewKey::parse(&format!("socket client {i}"), &["audit:read".to_owned()], "30")?;
        keys.push(access::create_key(db, tenant, AuditSource::command_line(), &me, new).await?.secret);
    }

    let received = Arc::new(Received::default());
    let opening = Instant::now();
    let mut readers = Vec::with_capacity(sockets);
    for i in 0..sockets {
        let mut request = url.as_str().into_client_request().map_err(AppError::internal)?;
        request.headers_mut().insert("host", HeaderValue::from_str(&host).map_err(AppError::internal)?);
        let key = HeaderValue::from_str(&keys[i / SOCKETS_PER_CALLER]).map_err(AppError::internal)?;
        request.headers_mut().insert("x-api-key", key);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.map_err(AppError::internal)?;
        socket.send(Message::text(r#"{"subscribe":["audit"]}"#)).await.map_err(AppError::internal)?;
        let received = received.clone();
        readers.push(tokio::spawn(async move {
            let mut heard_probe = false;
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(message) = serde_json::from_str::<LiveMessage>(text.as_str()) else { continue };
                match message.payload["action"].as_str() {
                    Some("bench.probe") if !heard_probe => {
                        heard_probe = true;
                        received.ready.fetch_add(1, Ordering::Relaxed);
                    }
                    Some("bench.fanout") => {
                        let sent: u64 = message.payload["target"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                        received.latencies.lock().unwrap().push(now_micros().saturating_sub(sent));
                        received.deliveries.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
            received.closed.fetch_add(1, Ordering::Relaxed);
        }));
    }
    println!("{sockets} sockets ({} API keys) opened in {:.2} s", keys.len(), opening.elapsed().as_secs_f64());
    // Until every socket is subscribed and hears the server's deliveries.
    let waiting = Instant::now();
    while received.ready.load(Ordering::Relaxed) < sockets {
        if waiting.elapsed() > Duration::from_secs(60) {
            return Err(AppError::internal(format!(
                "only {} of {sockets} sockets heard a probe within 60 s",
                received.ready.load(Ordering::Relaxed)
            )));
        }
        publish(db, tenant, vec![fanout("bench.probe", 0)]).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for (label, per_transaction) in [("one event per transaction", 1), ("bursts of 50 per transaction", 50)] {
        received.deliveries.store(0, Ordering::Relaxed);
        received.latencies.lock().unwrap().clear();
        let started = Instant::now();
        for _ in 0..events / per_transaction {
            let burst = (0..per_transaction).map(|_| fanout("bench.fanout", now_micros())).collect();
            publish(db, tenant, burst).await?;
        }
        let published = started.elapsed();
        let expected = (events / per_transaction) * per_transaction * sockets;
        while received.deliveries.load(Ordering::Relaxed) < expected
            && received.closed.load(Ordering::Relaxed) == 0
            && started.elapsed() < Duration::from_secs(120)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = started.elapsed();
        let delivered = received.deliveries.load(Ordering::Relaxed);
        let mut latencies = std::mem::take(&mut *received.latencies.lock().unwrap());
        latencies.sort_unstable();
        let at = |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)));
        let ms = |v: Option<&u64>| v.map_or(f64::NAN, |v| *v as f64 / 1000.0);
        println!(
            "{label}: {} events published in {:.2} s; {delivered} of {expected} deliveries in {:.2} s = {:.0} deliveries/s; \
             commit to client p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; sockets closed by the server: {}",
            events / per_transaction * per_transaction,
            published.as_secs_f64(),
            elapsed.as_secs_f64(),
            delivered as f64 / elapsed.as_secs_f64(),
            ms(at(0.5)),
            ms(at(0.95)),
            ms(latencies.last()),
            received.closed.load(Ordering::Relaxed),
        );
    }
    for reader in readers {
        reader.abort();
    }
    Ok(())
}

fn fanout(action: &str, sent_micros: u64) -> Event {
    Event::AuditRecorded { id: 0, action: action.into(), outcome: "success".into(), target: sent_micros.to_string() }
}

/// `events` in one committed transaction.
async fn publish(db: &Database, tenant: &Tenant, events: Vec<Event>) -> Result<(), AppError> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            for event in events {
                bus::publish(conn, event).await?;
            }
            Ok(())
        })
    })
    .await
}
