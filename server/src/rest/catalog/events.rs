//! `GET /events`: live `catalog:updated` notices, so open pages refresh when the catalog
//! changes.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::reader;
use crate::rest::ApiResult;
use app::state::{AppState, RequestContext};

/// Server-sent `catalog:updated` events for this tenant only.
pub(super) async fn stream(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    reader(&ctx)?;
    let schema = ctx.tenant.schema.clone();
    let receiver = state.catalog_events.subscribe();
    let stream = futures_util::stream::unfold(receiver, move |mut receiver| {
        let schema = schema.clone();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(change) if change.concerns(&schema) => {
                        let event = Event::default()
                            .event("catalog:updated")
                            .data(json!({ "version": change.version }).to_string());
                        return Some((Ok(event), receiver));
                    }
                    Ok(_) => continue,
                    // Fell behind: tell the page to refresh rather than replay what it missed.
                    Err(RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("catalog:updated").data("{}")), receiver));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
