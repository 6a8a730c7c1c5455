//! `POST /api/webhooks/{github,jenkins,argocd}`: CI/CD providers report builds and
//! deployments. No session or key: each request is authenticated by the tenant's secret for
//! that provider (GitHub's `X-Hub-Signature-256`; for Jenkins and Argo CD the `X-Beacon-Token`
//! header or a `token` query parameter). 202 with what was matched, 200 for a retried delivery
//! or an event Beacon does not use, 401 (counted) without proof of the secret.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::{ApiResult, Endpoint, Params};
use app::deployments::model::Provider;
use app::deployments::service::{self, Inbound, Received};
use app::state::{AppState, RequestContext};

/// Far above a real payload (GitHub's workflow runs are tens of KB).
const MAX_BODY: usize = 1024 * 1024;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::POST, "/api/webhooks/{provider}", receive).body_limit(MAX_BODY)]
}

async fn receive(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(provider): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let provider = Provider::parse(&provider)?;
    let params = Params::parse(raw)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let inbound = Inbound {
        provider,
        event: header("x-github-event"),
        delivery: header("x-github-delivery"),
        signature: header("x-hub-signature-256"),
        token: header("x-beacon-token").or(params.one("token")),
        body: &body,
    };
    let received = service::receive(&state.db, &state.keyring, &ctx.tenant, ctx.audit_source(), inbound).await?;
    Ok(match received {
        Received::Recorded { status, entities, unmatched_hint } => (
            StatusCode::ACCEPTED,
            Json(json!({ "status": status.as_str(), "entities": entities, "unmatched": unmatched_hint })),
        )
            .into_response(),
        Received::Duplicate => (StatusCode::OK, Json(json!({ "duplicate": true }))).into_response(),
        Received::Ignored(why) => (StatusCode::OK, Json(json!({ "ignored": why }))).into_response(),
    })
}
