//! The unsubscribe links of notification mail (`app::notifications::mail`): `GET` shows what
//! the link stops and asks, `POST` stops it (the page's button, or a mail provider's one-click
//! request, RFC 8058). No sign-in: the link's token is the proof, and it can only move the
//! member's mail of one kind back to the app.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use uuid::Uuid;

use super::{error_page, standalone_page, Endpoint};
use app::escape;
use app::notifications::mail::verify_unsubscribe;
use app::notifications::model::{NotificationKind, UNSUBSCRIBE_PATH};
use app::notifications::service;
use app::state::{AppState, RequestContext};

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, UNSUBSCRIBE_PATH, confirm),
        Endpoint::new(Method::POST, UNSUBSCRIBE_PATH, unsubscribe),
    ]
}

#[derive(Deserialize)]
struct Link {
    user: Uuid,
    kind: String,
    token: String,
}

/// The member and kind a well-formed, genuine link names; `None` for anything else.
fn checked(
    state: &AppState,
    ctx: &RequestContext,
    link: &Result<Query<Link>, QueryRejection>,
) -> Option<(Uuid, NotificationKind)> {
    let Ok(Query(link)) = link else { return None };
    let kind = NotificationKind::parse(&link.kind).ok()?;
    verify_unsubscribe(&state.keyring, &ctx.tenant, link.user, kind, &link.token).then_some((link.user, kind))
}

fn refused() -> Response {
    let text =
        "This unsubscribe link is not valid here. Sign in and choose on the notifications page how you are told.";
    error_page(StatusCode::BAD_REQUEST, "Not a valid link", text.into(), Some(("/notifications", "Notifications")))
}

async fn confirm(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    link: Result<Query<Link>, QueryRejection>,
) -> Response {
    let (Some((_, kind)), Ok(Query(link))) = (checked(&state, &ctx, &link), &link) else { return refused() };
    let action = format!(
        "{UNSUBSCRIBE_PATH}?user={}&kind={}&token={}",
        link.user,
        kind.as_str(),
        escape::percent(&link.token, b"")
    );
    let body = format!(
        r#"<div class="max-w-md text-center" data-testid="unsubscribe">
<h1 class="text-2xl font-semibold tracking-tight">Stop these emails?</h1>
<p class="mt-2 text-sm text-slate-600">You will no longer get emails about “{label}” from {tenant}. You will still see them in the app.</p>
<form method="post" action="{action}" class="mt-6"><button type="submit" class="rounded-lg bg-slate-900 px-4 py-2 text-sm font-semibold text-white hover:bg-slate-700">Stop these emails</button></form></div>"#,
        label = escape::html(kind.label()),
        tenant = escape::html(&ctx.tenant.name),
        action = escape::html(&action),
    );
    standalone_page(StatusCode::OK, "Stop these emails?", &body)
}

async fn unsubscribe(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    link: Result<Query<Link>, QueryRejection>,
) -> Response {
    let Some((user_id, kind)) = checked(&state, &ctx, &link) else { return refused() };
    if let Err(e) = service::unsubscribe(&state.db, &ctx.tenant, ctx.audit_source(), user_id, kind).await {
        return error_page(e.status(), "Not done", e.to_string(), None);
    }
    let body = format!(
        r#"<div class="max-w-md text-center" data-testid="unsubscribed">
<h1 class="text-2xl font-semibold tracking-tight">No more emails about this</h1>
<p class="mt-2 text-sm text-slate-600">“{label}” now shows only in the app. You can choose again on the notifications page.</p>
<p class="mt-4"><a class="text-sm text-amber-700" href="/notifications">Notifications</a></p></div>"#,
        label = escape::html(kind.label()),
    );
    standalone_page(StatusCode::OK, "Unsubscribed", &body)
}
