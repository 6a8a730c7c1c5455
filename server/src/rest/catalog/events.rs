//! `GET /events`: live `catalog:updated` notices as server-sent events, for REST clients (the
//! portal's own pages use the socket, `GET /api/ws`).

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use tokio::sync::broadcast::error::RecvError;

use super::reader;
use crate::rest::ApiResult;
use app::state::{AppState, RequestContext};

const NOTICE: &str = "catalog:updated";

/// Server-sent `catalog:updated` events for this tenant only.
pub(super) async fn stream(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    reader(&ctx)?;
    let receiver = state.events.subscribe(&ctx.tenant.schema);
    let stream = futures_util::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) if event.kind == NOTICE => {
                    let event = Event::default().event(NOTICE).data(event.payload.to_string());
                    return Some((Ok(event), receiver));
                }
                Ok(_) => continue,
                // Fell behind: tell the page to refresh rather than replay what it missed.
                Err(RecvError::Lagged(_)) => return Some((Ok(Event::default().event(NOTICE).data("{}")), receiver)),
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
