//! The browser's round trip through a tenant's identity provider: `/sso/{id}/start` sends it
//! there, `/sso/callback` receives it back, starts the session, and on any failure shows a
//! page with a reference id (the reason is in the audit log, not on the page).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{error_page, Endpoint};
use app::auth::session;
use app::sso::api::CALLBACK_PATH;
use app::sso::service::{self, Callback};
use app::state::{AppState, RequestContext};

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, "/sso/{id}/start", start), Endpoint::new(Method::GET, CALLBACK_PATH, callback)]
}

fn redirect_uri(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    format!("{}://{host}{CALLBACK_PATH}", state.public_scheme)
}

async fn start(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    match service::begin(&state, &ctx.tenant, id, &redirect_uri(&state, &headers)).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => problem(StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::BAD_REQUEST), &e.to_string()),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    session: Session,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let callback = Callback { code: query.code, state: query.state, error: query.error };
    let redirect_uri = redirect_uri(&state, &headers);
    match service::complete(&state, &ctx.tenant, ctx.audit_source(), callback, &redirect_uri).await {
        Ok(user_id) => match session::establish(&state, &session, &ctx, user_id).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        Err(failure) => problem(
            StatusCode::BAD_REQUEST,
            &format!(
                "Single sign-on did not complete. Try again from the sign-in page; if it keeps failing, give your administrator this reference: {}.",
                failure.reference
            ),
        ),
    }
}

fn problem(status: StatusCode, text: &str) -> Response {
    error_page(status, "Sign-in failed", text.to_owned(), Some(("/login", "Back to sign-in")))
}
