//! `GET /api/ws`: the portal's socket. A member (by session cookie) or a key (by bearer token)
//! subscribes to topics and receives the tenant's events it may see, live, with a replay of
//! what it missed when it reconnects with the last id it saw.
//!
//! A socket never costs the server more than its place in its tenant's bounded channel: one
//! that falls behind the channel, or does not take a message within `SEND_BUDGET`, or stops
//! answering pings, is closed, and its client reconnects with `after`.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, ApiResult, Endpoint};
use app::auth::model::Principal;
use app::auth::permission::Scope;
use app::error::AppError;
use app::events::hub::{Announced, SocketPermit};
use app::events::model::{topic, LiveMessage, Subscribe, REPLAY_INCOMPLETE, TOPICS};
use app::events::repo;
use app::state::{AppState, Credential, RequestContext};
use app::tenancy::model::Tenant;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, "/api/ws", socket)]
}

/// The largest message a client may send (a subscription is a few hundred bytes).
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// How long one message may wait for a client to take it before the socket is dropped.
const SEND_BUDGET: Duration = Duration::from_secs(5);
/// A ping this often; a client that has not answered the previous one by the next is gone.
const HEARTBEAT: Duration = Duration::from_secs(25);
/// A socket's longest life: its client then reconnects, and is authorized afresh (a session
/// ended elsewhere, a role lowered), missing nothing thanks to the replay.
const LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Events one replay sends at most; beyond, the client is told to refresh instead.
const REPLAY_LIMIT: i64 = 500;

/// Close codes: 1008 policy (a bad message), 1013 try again later (too slow), 4001 the
/// credentials changed or their time is up (reconnect and be authorized again).
const POLICY: u16 = 1008;
const TOO_SLOW: u16 = 1013;
const REAUTHORIZE: u16 = 4001;

async fn socket(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let principal = ctx.require_user()?.clone();
    // Browsers send the page's origin with every socket; a page of another site must not
    // open one with the member's cookie (cross-site WebSocket hijacking).
    if let Some(origin) = headers.get(header::ORIGIN) {
        if origin.as_bytes() != state.public_base(&headers).as_bytes() {
            tracing::warn!(origin = ?origin, "socket refused: foreign origin");
            return Err(ApiError(AppError::Forbidden));
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let permit = state.events.admit(&ctx.tenant.schema, &ctx.caller()).ok_or_else(|| {
        ApiError(AppError::RateLimited("Too many open sockets for this caller or tenant; close some tabs.".into()))
    })?;
    let credential_id = match &ctx.credential {
        Credential::ApiKey { id, .. } => Some(*id),
        _ => None,
    };
    let member = Member { scopes: ctx.credential.scopes().map(<[Scope]>::to_vec), principal, credential_id };
    let tenant = ctx.tenant.clone();
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve(socket, state, tenant, member, permit)))
}

/// Who is on the other end, as authorized when the socket opened.
struct Member {
    principal: Principal,
    scopes: Option<Vec<Scope>>,
    credential_id: Option<uuid::Uuid>,
}

impl Member {
    fn may_see(&self, event: &Announced) -> bool {
        event.audience.admits(&self.principal, self.scopes.as_deref())
    }

    fn is_revoked_by(&self, id: uuid::Uuid) -> bool {
        id == self.principal.user_id || Some(id) == self.credential_id
    }
}

/// Why a socket ends, and what its client is told.
enum End {
    Gone,
    Close(u16, &'static str),
}

async fn serve(socket: WebSocket, state: AppState, tenant: Tenant, member: Member, _permit: SocketPermit) {
    let mut events = state.events.subscribe(&tenant.schema);
    let mut revocations = state.events.revocations();
    let (mut sink, mut incoming) = socket.split();
    let mut topics: HashSet<String> = HashSet::new();
    let mut replayed: HashSet<i64> = HashSet::new();
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut answered = true;
    let lifetime = tokio::time::sleep(LIFETIME);
    tokio::pin!(lifetime);

    let end = loop {
        tokio::select! {
            // In this order when several are ready: a revocation or the end of the socket's
            // lifetime closes it before another event goes out, a busy tenant's events never
            // starve the heartbeat, and a subscription that arrived takes effect before the
            // events that arrived with it are judged against its topics.
            biased;
            revoked = revocations.recv() => match revoked {
                Ok(id) if !member.is_revoked_by(id) => {}
                // Revoked, or so many changes went by that this one's may be among them.
                _ => break End::Close(REAUTHORIZE, "credentials changed; reconnect"),
            },
            () = &mut lifetime => break End::Close(REAUTHORIZE, "time to reauthorize; reconnect with after"),
            _ = heartbeat.tick() => {
                if !answered {
                    break End::Gone;
                }
                answered = false;
                if let Err(end) = timed(sink.send(Message::Ping(Default::default()))).await {
                    break end;
                }
            }
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let Ok(request) = serde_json::from_str::<Subscribe>(text.as_str()) else {
                        break End::Close(POLICY, "send {\"subscribe\": [topics], \"after\": last id}");
                    };
                    if request.subscribe.iter().any(|t| !TOPICS.contains(&t.as_str())) {
                        break End::Close(POLICY, "unknown topic; use catalog, notification, audit");
                    }
                    topics = request.subscribe.into_iter().collect();
                    if let Some(after) = request.after {
                        match replay(&state, &tenant, &member, &topics, after, &mut sink).await {
                            Ok(ids) => replayed.extend(ids),
                            Err(end) => break end,
                        }
                    }
                }
                Some(Ok(Message::Pong(_))) => answered = true,
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(Message::Binary(_))) => break End::Close(POLICY, "text messages only"),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break End::Gone,
            },
            event = events.recv() => match event {
                Ok(event) => {
                    let wanted = topics.contains(topic(&event.kind))
                        && member.may_see(&event)
                        && event.id.is_none_or(|id| !replayed.contains(&id));
                    if wanted {
                        if let Err(end) = send(&mut sink, &event.message()).await {
                            break end;
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => break End::Close(TOO_SLOW, "too slow; reconnect with after"),
                Err(RecvError::Closed) => break End::Gone,
            },
        }
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
        let _ = timed(sink.send(Message::Close(Some(frame)))).await;
    }
}

/// Sends what the member missed since `after` in the subscribed topics; returns the ids sent,
/// which the live stream then skips.
async fn replay(
    state: &AppState,
    tenant: &Tenant,
    member: &Member,
    topics: &HashSet<String>,
    after: i64,
    sink: &mut SplitSink<WebSocket, Message>,
) -> Result<Vec<i64>, End> {
    let read = state
        .db
        .with_tenant(tenant, move |conn| Box::pin(async move { repo::since(conn, after, REPLAY_LIMIT + 1).await }))
        .await;
    let Ok((rows, pruned)) = read else { return Err(End::Close(TOO_SLOW, "replay unavailable; try again")) };
    let complete = !pruned && rows.len() as i64 <= REPLAY_LIMIT;
    let mut sent = Vec::new();
    for row in rows.into_iter().take(REPLAY_LIMIT as usize) {
        let id = row.id;
        sent.push(id);
        let Some(event) = row.announced() else { continue };
        if topics.contains(topic(&event.kind)) && member.may_see(&event) {
            send(sink, &event.message()).await?;
        }
    }
    if !complete {
        let notice = LiveMessage { id: None, kind: REPLAY_INCOMPLETE.into(), payload: serde_json::json!({}) };
        send(sink, &notice).await?;
    }
    Ok(sent)
}

async fn send(sink: &mut SplitSink<WebSocket, Message>, message: &LiveMessage) -> Result<(), End> {
    let text = serde_json::to_string(message).unwrap_or_default();
    timed(sink.send(Message::Text(text.into()))).await
}

/// A write that must finish within `SEND_BUDGET`: a client that does not read is dropped.
async fn timed(write: impl std::future::Future<Output = Result<(), axum::Error>>) -> Result<(), End> {
    match tokio::time::timeout(SEND_BUDGET, write).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(End::Gone),
    }
}
