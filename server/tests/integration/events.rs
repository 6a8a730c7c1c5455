//! The event bus and the portal's socket, over real connections: PostgreSQL's announcements
//! between two app instances, and `GET /api/ws` through a real WebSocket client.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{TestApp, TestTenant, METRICS_TOKEN};
use app::auth::model::Role;
use app::error::AppError;
use app::events::bus::{self, Event};
use app::events::model::{LiveMessage, REPLAY_INCOMPLETE};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// An `audit:recorded` event (admins only) whose target tells the tests which one it is.
fn audited(target: &str) -> Event {
    Event::AuditRecorded { id: 0, action: "test.event".into(), outcome: "success".into(), target: target.into() }
}

/// Publishes `events` in one committed transaction of `t`'s tenant.
async fn publish(app: &TestApp, t: &TestTenant, events: Vec<Event>) {
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move {
                for event in events {
                    bus::publish(conn, event).await?;
                }
                Ok::<_, AppError>(())
            })
        })
        .await
        .expect("published");
}

/// Opens the socket as the tenant's page at `host` would, with `credential` as a header
/// (`Cookie: …` or `Authorization: Bearer …`) and an optional Origin.
async fn open(
    addr: SocketAddr,
    host: &str,
    credential: Option<(header::HeaderName, String)>,
    origin: Option<&str>,
) -> Result<Socket, StatusCode> {
    let mut request = format!("ws://{addr}/api/ws").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
    if let Some((name, value)) = credential {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    if let Some(origin) = origin {
        headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status()),
        Err(e) => panic!("the socket did not open: {e}"),
    }
}

fn cookie(value: &str) -> Option<(header::HeaderName, String)> {
    Some((header::COOKIE, value.to_owned()))
}

async fn subscribe(socket: &mut Socket, topics: &[&str], after: Option<i64>) {
    let request = serde_json::json!({ "subscribe": topics, "after": after });
    socket.send(Message::text(request.to_string())).await.unwrap();
}

/// The next event on the socket (pings are answered by the client on its own).
async fn next(socket: &mut Socket) -> LiveMessage {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(text.as_str()).unwrap(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

/// Publishes probes until `socket` hears one, so the server's listener is known to listen;
/// returns with the probes consumed.
async fn until_heard(app: &TestApp, t: &TestTenant, socket: &mut Socket, probe: impl Fn(usize) -> Event) {
    for attempt in 0..100 {
        publish(app, t, vec![probe(attempt)]).await;
        if let Ok(Some(Ok(Message::Text(_)))) = tokio::time::timeout(Duration::from_millis(200), socket.next()).await {
            // Probes sent before the listener listened were never announced; later ones may
            // still be on their way: let them arrive and drop them.
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), socket.next()).await {}
            return;
        }
    }
    panic!("the socket never heard a probe");
}

fn target(message: &LiveMessage) -> &str {
    message.payload["target"].as_str().unwrap_or_default()
}

/// Nothing of a rolled-back transaction is announced, and every instance delivers what one
/// instance's transaction published.
#[tokio::test(flavor = "multi_thread")]
async fn only_committed_events_are_delivered_and_by_every_instance() {
    let (one, two) = (TestApp::new().await, TestApp::new().await);
    let t = one.tenant().await;
    let (mut on_one, mut on_two) =
        (one.state.events.subscribe(&t.tenant.schema), two.state.events.subscribe(&t.tenant.schema));
    for attempt in 0.. {
        assert!(attempt < 100, "the listeners never heard a probe");
        publish(&one, &t, vec![audited("probe")]).await;
        let heard = |r: &mut tokio::sync::broadcast::Receiver<_>| r.try_recv().is_ok();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if heard(&mut on_one) && heard(&mut on_two) {
            break;
        }
    }
    let rolled_back = one
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                bus::publish(conn, audited("rolled back")).await?;
                Err::<(), _>(AppError::invalid("the change fails after publishing"))
            })
        })
        .await;
    assert!(rolled_back.is_err());
    publish(&one, &t, vec![audited("committed")]).await;
    for receiver in [&mut on_one, &mut on_two] {
        let first = loop {
            let event = tokio::time::timeout(Duration::from_secs(5), receiver.recv()).await.unwrap().unwrap();
            // Only the test's own events (not the probes, nor the audit log's of the tenant's creation).
            if event.payload["action"] == "test.event" && event.payload["target"] != "probe" {
                break event;
            }
        };
        assert_eq!(first.payload["target"], "committed", "the rolled-back event was never announced");
        assert!(first.id.is_some(), "published events are replayable");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_socket_admits_members_and_keys_of_its_own_tenant_only() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let (t, admin) = app.signed_in_tenant().await;
    let (other, other_admin) = app.signed_in_tenant().await;

    assert_eq!(open(addr, &t.host, None, None).await.err(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(open(addr, &t.host, cookie(&other_admin), None).await.err(), Some(StatusCode::UNAUTHORIZED));
    let foreign = open(addr, &t.host, cookie(&admin), Some("http://evil.example")).await;
    assert_eq!(foreign.err(), Some(StatusCode::FORBIDDEN), "a page of another site cannot use the cookie");

    // The portal's own page, by cookie.
    let own_origin = format!("http://{}", t.host);
    let mut by_cookie = open(addr, &t.host, cookie(&admin), Some(&own_origin)).await.expect("opens");
    subscribe(&mut by_cookie, &["audit"], None).await;
    until_heard(&app, &t, &mut by_cookie, |_| audited("probe")).await;

    // A key with audit:read, by bearer token.
    let (_, secret) = app.create_key(&t, &admin, "socket", &["audit:read"]).await;
    let bearer = Some((header::AUTHORIZATION, format!("Bearer {secret}")));
    let mut by_key = open(addr, &t.host, bearer, None).await.expect("a key opens it too");
    subscribe(&mut by_key, &["audit"], None).await;
    // The subscription is read by the server's task for that socket, not by `subscribe`:
    // until a probe reaches it, an event published now could come before it.
    until_heard(&app, &t, &mut by_key, |_| audited("probe")).await;

    // Another tenant's event first, then this tenant's: the first to arrive is this tenant's.
    publish(&app, &other, vec![audited("other tenant")]).await;
    publish(&app, &t, vec![audited("mine")]).await;
    for socket in [&mut by_cookie, &mut by_key] {
        let message = loop {
            let message = next(socket).await;
            if message.payload["action"] == "test.event" && target(&message) != "probe" {
                break message;
            }
        };
        assert_eq!((message.kind.as_str(), target(&message)), ("audit:recorded", "mine"));
    }

    let metrics = app
        .send(
            axum::http::Request::get("/metrics")
                .header(header::AUTHORIZATION, format!("Bearer {METRICS_TOKEN}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(metrics.body.contains("websocket_connections_active 2"), "{}", metrics.body);

    // An unknown topic is a policy violation: the socket closes with 1008.
    subscribe(&mut by_cookie, &["secrets"], None).await;
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), by_cookie.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("expected a close, got {other:?}"),
        }
    };
    assert_eq!(closed, Some(1008));
}

/// A viewer subscribed to everything gets what concerns them, never the admins' events.
#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_gets_their_own_notifications_and_no_admin_events() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("viewer@{}.example.com", t.tenant.slug.as_str());
    let (viewer_id, viewer) = app.member(&t, &admin, &email, Role::Viewer).await;
    let viewer_id: uuid::Uuid = viewer_id.parse().unwrap();
    let mut socket = open(addr, &t.host, cookie(&viewer), None).await.expect("opens");
    subscribe(&mut socket, &["audit", "notification", "catalog"], None).await;
    let read = |_| Event::NotificationsRead { user_id: viewer_id, unread: 0 };
    until_heard(&app, &t, &mut socket, read).await;

    // An admin's audited change, then a notification for the viewer.
    app.create_key(&t, &admin, "admin's key", &["catalog:read"]).await;
    let notice = app::notifications::service::Notice {
        kind: app::notifications::model::NotificationKind::ImportFailed,
        title: "Your import failed".into(),
        body: "Line 3".into(),
        link: None,
    };
    app.db
        .with_tenant(&t.tenant, move |conn| {
            Box::pin(async move { app::notifications::service::notify(conn, viewer_id, notice).await })
        })
        .await
        .unwrap();
    let first = next(&mut socket).await;
    assert_eq!(first.kind, "notification:new", "no admin event came first: {first:?}");
    assert_eq!(
        (first.payload["title"].as_str(), first.payload["unread"].as_i64()),
        (Some("Your import failed"), Some(1))
    );
}

/// A client that reconnects with the last id it saw gets what it missed, once, then live
/// events; past the replay window it is told to refresh instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_reconnecting_client_gets_what_it_missed() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let (t, admin) = app.signed_in_tenant().await;
    let mut socket = open(addr, &t.host, cookie(&admin), None).await.unwrap();
    subscribe(&mut socket, &["audit"], None).await;
    until_heard(&app, &t, &mut socket, |_| audited("probe")).await;
    publish(&app, &t, vec![audited("seen")]).await;
    let seen = next(&mut socket).await;
    assert_eq!(target(&seen), "seen");
    socket.close(None).await.unwrap();

    publish(&app, &t, vec![audited("missed 1"), audited("missed 2")]).await;
    let mut again = open(addr, &t.host, cookie(&admin), None).await.unwrap();
    subscribe(&mut again, &["audit"], seen.id).await;
    let (first, second) = (next(&mut again).await, next(&mut again).await);
    assert_eq!((target(&first), target(&second)), ("missed 1", "missed 2"));
    assert!(first.id < second.id);
    publish(&app, &t, vec![audited("live")]).await;
    assert_eq!(target(&next(&mut again).await), "live", "nothing replayed twice");

    // Everything pruned (as after the window): the client is told to refresh.
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(
                async move { app::events::repo::prune(conn, chrono::Utc::now() + chrono::Duration::seconds(1)).await },
            )
        })
        .await
        .unwrap();
    let mut late = open(addr, &t.host, cookie(&admin), None).await.unwrap();
    subscribe(&mut late, &["audit"], seen.id).await;
    assert_eq!(next(&mut late).await.kind, REPLAY_INCOMPLETE);
}

/// A client that stops reading is dropped: the server keeps no queue for it beyond its
/// tenant's bounded channel, and its place is given back.
#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_does_not_read_is_dropped() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let (t, admin) = app.signed_in_tenant().await;
    let mut socket = open(addr, &t.host, cookie(&admin), None).await.unwrap();
    subscribe(&mut socket, &["audit"], None).await;
    until_heard(&app, &t, &mut socket, |_| audited("probe")).await;
    assert_eq!(app.state.events.active_sockets(), 1);

    // 12 MB of events, more than loopback buffers hold, while the client reads nothing.
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                diesel::sql_query(
                    "INSERT INTO events (kind, visible_to, payload) SELECT 'audit:recorded', 'audit.read', \
                     jsonb_build_object('target', repeat('x', 3000)) FROM generate_series(1, 4000)",
                )
                .execute(conn)
                .await
                .map_err(AppError::from)
            })
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.state.events.active_sockets() > 0 {
        assert!(std::time::Instant::now() < deadline, "the slow socket was never dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(socket);
}
