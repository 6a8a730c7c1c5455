//! Resolves the tenant from the Host header and the caller from an API key, an access token or
//! the session; refuses cross-site form posts and callers over their rate limit; and keeps
//! anonymous visitors out of portal pages.

use app::audit::model::AuditAction;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::bad_bytes;
use super::csrf::{self, CrossSite};
use super::observe::{ApiCallerSlot, RequestId};
use super::rate_limit;
use crate::rest::oauth::TOKEN_PATH;
use crate::rest::{self, carrying, error_page, refusal};
use crate::router::Edge;
use app::access::network::{self, TrustedProxies};
use app::access::service as access;
use app::access::token::looks_like_api_key;
use app::access::usage::ApiCaller;
use app::audit::service::{self as audit, AuditEvent, AuditSource};
use app::auth::api::{is_public_server_fn, RequiredStep};
use app::auth::service as auth;
use app::auth::session::{SessionUser, USER_KEY};
use app::auth::session_registry;
use app::deployments::model::INBOUND_PREFIX;
use app::error::AppError;
use app::notifications::model::UNSUBSCRIBE_PATH;
use app::state::{AppState, Credential, RequestContext};
use app::tenancy::model::{AllowFor, Tenant, TenantSlug, TenantStatus};
use app::tenancy::service as tenancy;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;
use tower_sessions_redis_store::fred::types::{Expiration, SetOptions};

pub async fn resolve(State(shared): State<(AppState, Arc<Edge>)>, request: Request, next: Next) -> Response {
    // Backstage's clients read every error of the catalog API in its envelope, refusals
    // made here included; other paths keep the app's own error shapes.
    let envelope =
        rest::catalog::serves(request.uri().path()).then(|| (request.method().clone(), request.uri().clone()));
    let response = admit(shared, request, next).await;
    match envelope {
        Some((method, uri)) => rest::in_envelope(&method, &uri, response),
        None => response,
    }
}

/// The request handled, or refused before any handler sees it. Every refusal carries its
/// error (`rest::refusal`, `rest::carrying`), for `resolve` to put in the envelope.
async fn admit((state, edge): (AppState, Arc<Edge>), request: Request, next: Next) -> Response {
    let mut request = match bad_bytes::refuse(request).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let cross_site = csrf::check(request.method(), request.uri().path(), request.headers()).err();
    let as_page = rate_limit::wants_page(request.headers());
    let facts = RequestFacts::of(&request, &edge.trusted_proxies);
    let ip = facts.ip.map(|ip| ip.to_string());
    let ctx = match context_for(&state, &edge, facts).await {
        Ok(ctx) => ctx,
        Err(Rejection::BadCredential) => {
            // Failed credentials count against the caller's address like any anonymous call.
            let limit = Some(edge.rate_limits.anonymous_per_minute);
            let caller = rate_limit::anonymous_key(ip.as_deref());
            let quota = rate_limit::count_key(&state.redis, &edge.rate_counters, limit, &caller).await;
            return if quota.exceeded() { quota.refusal(as_page) } else { Rejection::BadCredential.into_response() };
        }
        Err(rejection) => return rejection.into_response(),
    };
    if let (Some(slot), Some(caller)) = (request.extensions().get::<ApiCallerSlot>(), ApiCaller::of(&ctx)) {
        slot.fill(caller);
    }
    let span = tracing::Span::current();
    span.record("tenant", ctx.tenant.slug.as_str());
    if let Some(p) = &ctx.principal {
        span.record("user", tracing::field::display(p.user_id));
    }
    if let Some(CrossSite(reason)) = cross_site {
        let event = AuditEvent::failure(AuditAction::CsrfRefused, request.uri().path().to_owned())
            .details(serde_json::json!({ "reason": reason, "method": request.method().as_str() }));
        if let Err(e) = audit::record_alone(&state.db, &ctx.tenant, ctx.audit_source(), event).await {
            return Rejection::Failed(e).into_response();
        }
        return refusal(StatusCode::FORBIDDEN, AppError::invalid("Cross-site request refused."));
    }
    let quota = rate_limit::count(&state.redis, &edge.rate_counters, &edge.rate_limits, &ctx).await;
    if quota.exceeded() {
        return quota.refusal(as_page);
    }
    if let Some(p) = &ctx.principal {
        state.usage.active(&ctx.tenant, p.user_id);
    }

    let anonymous = ctx.principal.is_none();
    let machine = ctx.credential != Credential::Session;
    let required_step = ctx
        .principal
        .as_ref()
        .and_then(|p| RequiredStep::of(p, ctx.tenant.mfa_policy, ctx.credential == Credential::Session));
    request.extensions_mut().insert(ctx);
    let path = request.uri().path();
    let mut response = match required_step {
        _ if anonymous && is_portal_page(path) => Redirect::to("/login").into_response(),
        // Unsubscribe links from mail and CI/CD providers authenticate with their own token.
        _ if anonymous
            && path.starts_with("/api/")
            && !is_public_server_fn(path)
            && path != UNSUBSCRIBE_PATH
            && !path.starts_with(INBOUND_PREFIX) =>
        {
            refusal(StatusCode::UNAUTHORIZED, AppError::Unauthenticated)
        }
        // Pages are for people in a browser; keys and tokens are for the API.
        _ if machine && is_portal_page(path) => {
            refusal(StatusCode::FORBIDDEN, AppError::invalid("API keys and access tokens work on the API only."))
        }
        Some(step) if is_portal_page(path) && path != step.page() && path != "/logout" => {
            Redirect::to(step.page()).into_response()
        }
        Some(step) if path.starts_with("/api/") && !step.allows(path) => {
            refusal(StatusCode::FORBIDDEN, AppError::Invalid(step.message().into()))
        }
        _ => with_error_status(next.run(request).await).await,
    };
    quota.write_headers(response.headers_mut());
    response
}

/// Pages need a signed-in member; anonymous calls to server functions get 401 instead of a
/// redirect (permissions are checked by each function). The token endpoint authenticates
/// clients itself; `/sso/` is how anonymous visitors sign in through their provider.
fn is_portal_page(path: &str) -> bool {
    !matches!(path, "/login" | "/login/mfa")
        && path != TOKEN_PATH
        && !path.starts_with("/api/")
        && !path.starts_with("/sso/")
}

enum Rejection {
    UnknownTenant,
    /// The tenant's IP allowlist does not list the caller's address for this channel.
    AddressNotAllowed(AllowFor),
    /// A presented API key or access token did not check out.
    BadCredential,
    Suspended(String),
    Failed(AppError),
}

impl From<AppError> for Rejection {
    fn from(e: AppError) -> Self {
        Rejection::Failed(e)
    }
}

impl IntoResponse for Rejection {
    /// A page for people in a browser, or the app's JSON error for API callers; either carries
    /// its error for the catalog API's envelope.
    fn into_response(self) -> Response {
        let (status, title, error) = match self {
            Rejection::UnknownTenant => (
                StatusCode::NOT_FOUND,
                "No portal here",
                AppError::not_found("There is no Beacon organisation at this address. Check the link you were given."),
            ),
            Rejection::AddressNotAllowed(AllowFor::Api) => {
                return refusal(
                    StatusCode::FORBIDDEN,
                    AppError::invalid("Your network address may not use this organisation's API."),
                )
            }
            Rejection::AddressNotAllowed(_) => (
                StatusCode::FORBIDDEN,
                "Not available from your network",
                AppError::invalid("This organisation only allows its portal from approved networks. Connect through your company network or VPN, or ask your administrator."),
            ),
            Rejection::BadCredential => {
                let mut response = refusal(StatusCode::UNAUTHORIZED, AppError::Unauthenticated);
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                return response;
            }
            Rejection::Suspended(name) => (
                StatusCode::FORBIDDEN,
                "This portal is suspended",
                AppError::invalid(format!("{name}'s portal is suspended. Contact your administrator or Beacon support.")),
            ),
            Rejection::Failed(e) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", e),
        };
        carrying(error_page(status, title, error.to_string(), None), error)
    }
}

/// What the tenant lookup needs from the request, taken out before any `.await` (a borrowed
/// request is not `Send`).
struct RequestFacts {
    host: String,
    path: String,
    session: Option<Session>,
    /// The client's address (behind trusted proxies, from `X-Forwarded-For`).
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    request_id: String,
    /// An API key or access token from `Authorization: Bearer` or `X-API-Key`.
    bearer: Option<String>,
}

impl RequestFacts {
    fn of(request: &Request, proxies: &TrustedProxies) -> Self {
        let headers = request.headers();
        let forwarded_for = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        Self {
            path: request.uri().path().to_owned(),
            // An absolute-form request line (or HTTP/2's :authority) names the host itself, and
            // then the Host header is ignored (RFC 9112 §3.2.2); otherwise the Host header.
            host: request
                .uri()
                .authority()
                .map(|a| a.as_str())
                .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
                .unwrap_or_default()
                .to_owned(),
            session: request.extensions().get::<Session>().cloned(),
            ip: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| proxies.client_address(c.0.ip(), forwarded_for)),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(512).collect()),
            request_id: request.extensions().get::<RequestId>().map_or_else(String::new, |r| r.0.clone()),
            bearer: bearer(headers),
        }
    }
}

async fn context_for(state: &AppState, edge: &Edge, facts: RequestFacts) -> Result<RequestContext, Rejection> {
    let slug = TenantSlug::from_host(&facts.host, &edge.base_domain).ok_or(Rejection::UnknownTenant)?;
    let tenant = tenancy::find(&state.db, &slug).await?.ok_or(Rejection::UnknownTenant)?;
    if tenant.status == TenantStatus::Suspended {
        return Err(Rejection::Suspended(tenant.name));
    }
    // Before any credential is looked at: a listed-out address learns nothing, not even
    // whether its key is valid.
    let channel = if facts.bearer.is_some() || facts.path == TOKEN_PATH { AllowFor::Api } else { AllowFor::Portal };
    if !network::admits(&tenant.allowlist, facts.ip, channel) {
        audit_refused_address(state, &tenant, &facts, channel).await?;
        return Err(Rejection::AddressNotAllowed(channel));
    }

    let mut ctx = RequestContext {
        tenant,
        principal: None,
        credential: Credential::Session,
        ip: facts.ip.map(|ip| ip.to_string()),
        user_agent: facts.user_agent,
        request_id: facts.request_id,
    };
    if let Some(presented) = facts.bearer {
        // A request that presents a credential is judged by it alone, never by a cookie.
        let authenticated = if looks_like_api_key(&presented) {
            access::authenticate_key(&state.db, &ctx.tenant, &presented, ctx.audit_source()).await
        } else {
            access::authenticate_token(&state.db, &ctx.tenant, &state.keyring, &presented).await
        };
        let authenticated = authenticated.map_err(|e| match e {
            AppError::Unauthenticated => Rejection::BadCredential,
            other => Rejection::Failed(other),
        })?;
        ctx.principal = Some(authenticated.principal);
        ctx.credential = authenticated.credential;
        return Ok(ctx);
    }
    if let Some(session) = &facts.session {
        // A session written by an older release does not parse: it is simply signed out.
        let signed_in = session.get::<SessionUser>(USER_KEY).await.ok().flatten();
        if let Some(user) = signed_in.filter(|u| u.tenant_id == ctx.tenant.id) {
            if session_registry::check(&state.redis, &state.session_policy, &user, ctx.ip.as_deref()).await? {
                ctx.principal = auth::active_principal(&state.db, &ctx.tenant, user.user_id).await?;
            }
            if ctx.principal.is_none() {
                // Revoked, past its lifetime, or the membership was deactivated or removed:
                // end the session now.
                session.flush().await.map_err(AppError::from)?;
            }
        }
    }
    Ok(ctx)
}

/// Server-function errors that never reached the function body (its arguments did not
/// decode) come out of Leptos as 500; give them the status of the error they carry. Errors
/// the body returns already have theirs (`app::error::respond`, which also serves pages).
async fn with_error_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "error body too large").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = error.status();
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// One audit event per address, tenant and channel per minute: a blocked script retrying in
/// a loop must not flood the audit log.
async fn audit_refused_address(
    state: &AppState,
    tenant: &Tenant,
    facts: &RequestFacts,
    channel: AllowFor,
) -> Result<(), AppError> {
    let ip = facts.ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let key = format!("allowlist:refused:{}:{ip}:{}", tenant.id.0, channel.as_str());
    let first: Option<String> = state
        .redis
        .set(key, 1, Some(Expiration::EX(60)), Some(SetOptions::NX), false)
        .await
        .map_err(AppError::internal)?;
    if first.is_none() {
        return Ok(());
    }
    let source = AuditSource {
        actor: "anonymous".into(),
        ip: Some(ip),
        user_agent: facts.user_agent.clone(),
        request_id: Some(facts.request_id.clone()),
        ..AuditSource::default()
    };
    let event = AuditEvent::failure(AuditAction::AllowlistRefused, facts.path.clone())
        .details(serde_json::json!({ "channel": channel.as_str(), "repeats_muted_for_seconds": 60 }));
    audit::record_alone(&state.db, tenant, source, event).await
}

fn bearer(headers: &header::HeaderMap) -> Option<String> {
    let from_authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, value) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| value.trim().to_owned())
    });
    from_authorization.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned()))
}
