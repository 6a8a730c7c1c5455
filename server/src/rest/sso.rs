//! The browser's round trip through a tenant's identity provider: `/sso/{id}/start` sends it
//! there and binds the round trip to its session; `/sso/callback` (OpenID Connect, GitHub) or
//! the provider's SAML assertion consumer service (then `/sso/saml/{id}/finish`) receives it
//! back, checks it is the same browser, starts the session, and on any failure shows a page with a
//! reference id (the reason is in the audit log, not on the page). An admin's test sign-in ends
//! on a report instead of a session.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

use super::{error_page, standalone_page, Endpoint};
use app::auth::permission::Action;
use app::auth::session;
use app::error::AppError;
use app::escape;
use app::sso::oauth_service::{self, Callback};
use app::sso::paths;
use app::sso::providers::{self, Kind};
use app::sso::saml_service::{self, Posted};
use app::sso::sign_in::{Completed, Failure, Started, TestReport, FLOW_KEY};
use app::state::{AppState, RequestContext};

/// Base64 of the largest response we read (256 KiB), form-encoded, with room for RelayState.
const ACS_BODY_LIMIT: usize = 1024 * 1024;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, paths::START, start),
        Endpoint::new(Method::GET, paths::CALLBACK, callback),
        Endpoint::new(Method::GET, paths::SAML_METADATA, saml_metadata),
        Endpoint::new(Method::POST, paths::SAML_ACS, saml_acs).body_limit(ACS_BODY_LIMIT),
        Endpoint::new(Method::GET, paths::SAML_FINISH, saml_finish),
    ]
}

#[derive(Deserialize)]
struct StartQuery {
    #[serde(default)]
    test: Option<String>,
}

async fn start(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    session: Session,
    Path(id): Path<Uuid>,
    Query(query): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    // A test sign-in reports what the provider sends: only for the admins who configure it.
    let test = query.test.is_some_and(|t| t == "1");
    if test {
        if let Err(e) = ctx.authorize(Action::ManageAccess) {
            return refused(&e);
        }
    }
    let started = match begin(&state, &ctx, id, &state.public_base(&headers), test).await {
        Ok(started) => started,
        Err(e) => return refused(&e),
    };
    // The round trip must come back to this browser: the callback compares its token.
    match session.insert(FLOW_KEY, &started.flow).await {
        Ok(()) => Redirect::to(&started.url).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Starts the round trip of the provider's protocol.
async fn begin(state: &AppState, ctx: &RequestContext, id: Uuid, base: &str, test: bool) -> Result<Started, AppError> {
    let provider = providers::provider(&state.db, &ctx.tenant, id).await?;
    match provider.kind {
        Kind::Saml => saml_service::begin(state, &ctx.tenant, provider, base, test).await,
        Kind::Oidc | Kind::GitHub => oauth_service::begin(state, &ctx.tenant, provider, base, test).await,
    }
}

/// The flow token this browser's session holds, used up by the sign-in that reads it.
async fn started_here(session: &Session) -> Option<String> {
    session.remove::<String>(FLOW_KEY).await.ok().flatten()
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
    let started_here = started_here(&session).await;
    let callback = Callback { code: query.code, state: query.state, error: query.error, started_here };
    let completed =
        oauth_service::complete(&state, &ctx.tenant, ctx.audit_source(), callback, &state.public_base(&headers)).await;
    conclude(&state, &ctx, &session, completed).await
}

async fn saml_metadata(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    match saml_service::metadata(&state, &ctx.tenant, id, &state.public_base(&headers)).await {
        Ok(xml) => ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response(),
        Err(e) => {
            let status = e.status();
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], e.to_string()).into_response()
        }
    }
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The assertion consumer service (HTTP-POST binding). The IdP's page posts here cross-site, so
/// the CSRF check exempts this path (the signed assertion and the one-time RelayState
/// authenticate the request), and the session cookie does not come with it: a verified
/// assertion is finished by a same-site redirect that brings the cookie.
async fn saml_acs(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let status = rejection.status();
            let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "The identity provider's response is too large.".to_owned()
            } else {
                "The identity provider's response could not be read.".to_owned()
            };
            return problem(status, &text);
        }
    };
    let posted = Posted { saml_response: form.saml_response, relay_state: form.relay_state };
    let base = state.public_base(&headers);
    match saml_service::accept(&state, &ctx.tenant, ctx.audit_source(), id, posted, &base).await {
        Ok(finish) => Redirect::to(&finish).into_response(),
        Err(failure) => failed(&failure),
    }
}

#[derive(Deserialize)]
struct FinishQuery {
    #[serde(default)]
    token: String,
}

async fn saml_finish(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    session: Session,
    Path(id): Path<Uuid>,
    Query(query): Query<FinishQuery>,
) -> Response {
    let started_here = started_here(&session).await;
    let completed = saml_service::finish(&state, &ctx.tenant, ctx.audit_source(), id, &query.token, started_here).await;
    conclude(&state, &ctx, &session, completed).await
}

/// Signs the member in (a new session id), shows a test report, or shows the failure's
/// reference.
async fn conclude(
    state: &AppState,
    ctx: &RequestContext,
    session: &Session,
    completed: Result<Completed, Failure>,
) -> Response {
    match completed {
        Ok(Completed::SignedIn(user_id)) => match session::establish(state, session, ctx, user_id).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        Ok(Completed::Tested(report)) => test_report(&report),
        Err(failure) => failed(&failure),
    }
}

fn failed(failure: &Failure) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        &format!(
            "Single sign-on did not complete. Try again from the sign-in page; if it keeps failing, give your administrator this reference: {}.",
            failure.reference
        ),
    )
}

fn problem(status: StatusCode, text: &str) -> Response {
    error_page(status, "Sign-in failed", text.to_owned(), Some(("/login", "Back to sign-in")))
}

/// A start the app refused (unknown provider, not an admin, provider unreachable), with its status.
fn refused(e: &AppError) -> Response {
    problem(e.status(), &e.to_string())
}

/// What an admin's test sign-in received, and what a real sign-in would do with it.
fn test_report(report: &TestReport) -> Response {
    let row = |label: &str, value: &str| {
        format!(
            r#"<tr><th class="py-1 pr-4 text-left align-top font-medium text-slate-500">{}</th><td class="py-1 break-all">{}</td></tr>"#,
            escape::html(label),
            escape::html(value)
        )
    };
    let role = match &report.mapped_role {
        Some(role) => format!("{role} (from the role mapping)"),
        None => format!("no mapping matches: new members get {}", report.default_role),
    };
    let mut rows = vec![
        row("Subject", &report.subject),
        row("Email", report.email.as_deref().unwrap_or("none")),
        row("Name", report.name.as_deref().unwrap_or("none")),
        row("Groups", &report.groups.join(", ")),
        row("Role", &role),
    ];
    rows.extend(report.attributes.iter().map(|(name, values)| row(&format!("Attribute {name}"), &values.join(", "))));
    let body = format!(
        r#"<div class="max-w-2xl"><p class="text-sm font-semibold text-emerald-700">Test sign-in succeeded</p>
<h1 class="mt-2 text-2xl font-semibold tracking-tight">{provider} answered</h1>
<p class="mt-2 text-sm text-slate-600">Nobody was signed in. This is what the provider sent and what a sign-in would do with it.</p>
<table class="mt-4 text-sm">{rows}</table>
<p class="mt-4"><a class="text-sm text-amber-700" href="/settings/sso">Back to single sign-on settings</a></p></div>"#,
        provider = escape::html(&report.provider),
        rows = rows.concat(),
    );
    standalone_page(StatusCode::OK, "Test sign-in", &body)
}
