//! Resolves the tenant from the Host header and the signed-in member from the session, and
//! keeps anonymous visitors out of portal pages.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::observe::RequestId;
use crate::router::Edge;
use app::auth::api::is_public_server_fn;
use app::auth::service as auth;
use app::auth::session::{SessionUser, USER_KEY};
use app::error::AppError;
use app::state::{AppState, RequestContext};
use app::tenancy::model::{TenantSlug, TenantStatus};
use app::tenancy::service as tenancy;

pub async fn resolve(State((state, edge)): State<(AppState, Arc<Edge>)>, mut request: Request, next: Next) -> Response {
    let facts = RequestFacts::of(&request);
    match context_for(&state, &edge, facts).await {
        Ok(ctx) => {
            let span = tracing::Span::current();
            span.record("tenant", ctx.tenant.slug.as_str());
            if let Some(p) = &ctx.principal {
                span.record("user", tracing::field::display(p.user_id));
            }
            let anonymous = ctx.principal.is_none();
            request.extensions_mut().insert(ctx);
            let path = request.uri().path();
            if anonymous && is_portal_page(path) {
                return Redirect::to("/login").into_response();
            }
            if anonymous && path.starts_with("/api/") && !is_public_server_fn(path) {
                return (StatusCode::UNAUTHORIZED, axum::Json(AppError::Unauthenticated)).into_response();
            }
            next.run(request).await
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// Pages need a signed-in member; anonymous calls to server functions get 401 instead of a
/// redirect (roles are checked by each function).
fn is_portal_page(path: &str) -> bool {
    path != "/login" && !path.starts_with("/api/")
}

enum Rejection {
    UnknownTenant,
    Suspended(String),
    Failed(AppError),
}

impl From<AppError> for Rejection {
    fn from(e: AppError) -> Self {
        Rejection::Failed(e)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::UnknownTenant => error_page(
                StatusCode::NOT_FOUND,
                "No portal here",
                "There is no Beacon organisation at this address. Check the link you were given.".into(),
            ),
            Rejection::Suspended(name) => error_page(
                StatusCode::FORBIDDEN,
                "This portal is suspended",
                format!("{name}'s portal is suspended. Contact your administrator or Beacon support."),
            ),
            Rejection::Failed(e) => {
                error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", e.to_string())
            }
        }
    }
}

/// What the tenant lookup needs from the request, taken out before any `.await` (a borrowed
/// request is not `Send`).
struct RequestFacts {
    host: String,
    session: Option<Session>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: String,
}

impl RequestFacts {
    fn of(request: &Request) -> Self {
        let headers = request.headers();
        Self {
            host: headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| request.uri().host())
                .unwrap_or_default()
                .to_owned(),
            session: request.extensions().get::<Session>().cloned(),
            ip: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(512).collect()),
            request_id: request.extensions().get::<RequestId>().map_or_else(String::new, |r| r.0.clone()),
        }
    }
}

async fn context_for(state: &AppState, edge: &Edge, facts: RequestFacts) -> Result<RequestContext, Rejection> {
    let slug = TenantSlug::from_host(&facts.host, &edge.base_domain).ok_or(Rejection::UnknownTenant)?;
    let tenant = tenancy::find(&state.db, &slug).await?.ok_or(Rejection::UnknownTenant)?;
    if tenant.status == TenantStatus::Suspended {
        return Err(Rejection::Suspended(tenant.name));
    }

    let mut principal = None;
    if let Some(session) = &facts.session {
        let signed_in = session.get::<SessionUser>(USER_KEY).await.map_err(AppError::from)?;
        if let Some(user) = signed_in.filter(|u| u.tenant_id == tenant.id) {
            principal = auth::active_principal(&state.db, &tenant, user.user_id).await?;
            if principal.is_none() {
                // The membership was deactivated or removed: end the session now.
                session.flush().await.map_err(AppError::from)?;
            }
        }
    }

    Ok(RequestContext { tenant, principal, ip: facts.ip, user_agent: facts.user_agent, request_id: facts.request_id })
}

/// A full page for requests that never reach the app (no tenant, suspended tenant).
fn error_page(status: StatusCode, title: &str, text: String) -> Response {
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Beacon</title><link rel="stylesheet" href="/pkg/beacon.css"></head>
<body class="bg-slate-50 text-slate-900 antialiased"><main class="min-h-screen flex items-center justify-center px-4">
<div class="max-w-md text-center"><p class="text-sm font-semibold text-amber-600">{code}</p>
<h1 class="mt-2 text-2xl font-semibold tracking-tight">{title}</h1><p class="mt-2 text-sm text-slate-600">{text}</p></div></main></body></html>"#,
        code = status.as_u16(),
        text = app::ui::html::escape(&text),
    );
    (status, Html(html)).into_response()
}
