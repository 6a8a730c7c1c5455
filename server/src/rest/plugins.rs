//! `/api/plugins` (seed 000's names): the directory as the tenant sees it, the tenant's plugin
//! set and history, changes (install, update, uninstall, toggle, rollback; `resolve` is the
//! same change as a dry run), the platform, and what a runtime reads: `dynamic-plugins.yaml`
//! with an `ETag`, and where it reports what it loaded (`POST /api/plugins/health`, scope
//! `plugins:report`). Keys need `plugins:read` to read and `plugins:write` to change. A change the
//! solver refuses is a 409 whose body explains it:
//! `{"explanation": [...], "suggestions": [...], "alternatives": [{"package", "version"}]}`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_body, ApiResult, Endpoint, Params};
use app::auth::model::Principal;
use app::auth::permission::Action;
use app::plugins::model::{
    Browse, BrowseQuery, ChangeOutcome, HealthReport, PackageChange, PluginDetail, PluginHealth, TenantPlugins,
};
use app::plugins::service::{self, Change, Operation};
use app::state::{AppState, RequestContext};

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/api/plugins", list),
        Endpoint::new(Method::GET, "/api/plugins/installed", installed),
        Endpoint::new(Method::GET, "/api/plugins/revisions", compare),
        Endpoint::new(Method::GET, "/api/plugins/dynamic-plugins.yaml", dynamic_plugins),
        Endpoint::new(Method::GET, "/api/plugins/health", health),
        Endpoint::new(Method::POST, "/api/plugins/health", report_health),
        Endpoint::new(Method::GET, "/api/plugins/npm/{*path}", npm),
        Endpoint::new(Method::GET, "/api/plugins/config", config),
        Endpoint::new(Method::GET, "/api/plugins/recommendations", recommendations),
        Endpoint::new(Method::PUT, "/api/plugins/config", configure),
        Endpoint::new(Method::PUT, "/api/plugins/platform", platform),
        Endpoint::new(Method::POST, "/api/plugins/resolve", resolve),
        Endpoint::new(Method::POST, "/api/plugins/install", install),
        Endpoint::new(Method::PUT, "/api/plugins/update", update),
        Endpoint::new(Method::DELETE, "/api/plugins/uninstall", uninstall),
        Endpoint::new(Method::POST, "/api/plugins/toggle", toggle),
        Endpoint::new(Method::POST, "/api/plugins/rollback", rollback),
        Endpoint::new(Method::GET, "/api/plugins/{id}", show),
    ]
}

/// `GET /api/plugins?q=&category=&role=&support=&compat=compatible&state=installed&collection=`
async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Browse>> {
    ctx.authorize(Action::PluginsRead)?;
    let params = Params::parse(raw)?;
    let query = BrowseQuery::from_params(|k| params.one(k).unwrap_or_default().to_owned());
    Ok(Json(service::browse(&state.db, &state.plugins, &ctx.tenant, query).await?))
}

/// `GET /api/plugins/{id}`: documentation, packages, every version's fit on the tenant's
/// release and on recent releases, dependencies.
async fn show(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<Json<PluginDetail>> {
    let me = ctx.authorize(Action::PluginsRead)?;
    let manage = app::auth::permission::decide(me.role, ctx.credential.scopes(), Action::PluginsManage).allowed();
    Ok(Json(service::plugin(&state.db, &state.plugins, &ctx.tenant, &id, manage).await?))
}

/// `GET /api/plugins/installed`: platform, installed packages with updates, history.
async fn installed(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<TenantPlugins>> {
    let me = ctx.authorize(Action::PluginsRead)?;
    let manage = app::auth::permission::decide(me.role, ctx.credential.scopes(), Action::PluginsManage).allowed();
    Ok(Json(service::tenant_plugins(&state.db, &state.plugins, &ctx.tenant, manage).await?))
}

/// `GET /api/plugins/revisions?from=3&to=5`: how revision 5 differs from revision 3.
async fn compare(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<PackageChange>>> {
    ctx.authorize(Action::PluginsRead)?;
    let params = Params::parse(raw)?;
    let number = |k: &str| {
        params
            .one(k)
            .and_then(|v| v.parse::<i32>().ok())
            .ok_or_else(|| super::invalid(format!("`{k}` must be a revision number")))
    };
    Ok(Json(service::compare(&state.db, &ctx.tenant, number("from")?, number("to")?).await?))
}

/// `GET /api/plugins/dynamic-plugins.yaml`: the current revision in RHDH's format; 304 when
/// the runtime's `If-None-Match` is still current.
async fn dynamic_plugins(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    ctx.authorize(Action::PluginsRead)?;
    let (yaml, etag) = service::dynamic_plugins(&state.db, &ctx.tenant).await?;
    // RFC 9110's weak comparison: `W/"x"` matches `"x"`, and `*` matches any current file.
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag));
    let cache = (header::CACHE_CONTROL, "no-cache".to_owned());
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response());
    }
    let headers = [(header::CONTENT_TYPE, "application/yaml; charset=utf-8".to_owned()), (header::ETAG, etag), cache];
    Ok((headers, yaml).into_response())
}

/// `GET /api/plugins/health`: the runtimes heard from in the last day and each installed
/// package's health against the current revision (running, failed, drift, off, library).
async fn health(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<PluginHealth>> {
    ctx.authorize(Action::PluginsRead)?;
    Ok(Json(service::health(&state.db, &state.plugins, &ctx.tenant).await?))
}

/// `POST /api/plugins/health {"instance": "rhdh-0", "plugins": [{"package", "version", "state":
/// "loaded"|"failed", "error"}]}`: what a runtime loaded. 202 when it changed what the runtime
/// runs (audited, announced), 204 when it is the same report again.
async fn report_health(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::PluginsReport)?;
    let report: HealthReport = json_body(&body)?;
    let changed = app::plugins::health::report(&state.db, &ctx.tenant, ctx.audit_source(), report).await?;
    Ok(if changed { StatusCode::ACCEPTED } else { StatusCode::NO_CONTENT })
}

/// `GET /api/plugins/npm/<name>` and `/api/plugins/npm/<name>/-/<file>.tgz`: the tenant's npm
/// registry, serving the verified tarballs of its current revision (npm sends the key as
/// `Authorization: Bearer` from `.npmrc`'s `_authToken`).
async fn npm(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    use app::plugins::npm::{answer, NpmAnswer};
    ctx.authorize(Action::PluginsRead)?;
    let base = format!("{}/api/plugins/npm", state.public_base(&headers));
    Ok(match answer(&state.db, &state.plugins, &ctx.tenant, &path, &base).await? {
        NpmAnswer::Packument(doc) => Json(doc).into_response(),
        NpmAnswer::Tarball(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
    })
}

#[derive(Deserialize)]
struct PlatformRequest {
    runtime: String,
    release: String,
}

/// `PUT /api/plugins/platform {"runtime": "rhdh", "release": "1.45.3"}`
async fn platform(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::PluginsManage)?;
    let request: PlatformRequest = json_body(&body)?;
    service::set_platform(
        &state.db,
        &state.plugins,
        &ctx.tenant,
        ctx.audit_source(),
        &request.runtime,
        &request.release,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A change with its optional reason.
#[derive(Deserialize)]
struct ChangeRequest<T> {
    #[serde(flatten)]
    change: T,
    #[serde(default)]
    reason: String,
}

/// Who may change the set is checked before the body is read (a key without `plugins:write`
/// gets 403 whatever it sends).
fn manager(ctx: &RequestContext) -> ApiResult<Principal> {
    Ok(ctx.authorize(Action::PluginsManage)?.clone())
}

async fn apply(
    state: &AppState,
    ctx: &RequestContext,
    me: &Principal,
    operation: Operation,
    reason: &str,
    dry_run: bool,
) -> ApiResult<Response> {
    let change = Change { operation, reason: reason.to_owned(), dry_run };
    let outcome = service::change(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), me, change).await?;
    Ok(match outcome {
        ChangeOutcome::Applied { revision, resolution } => {
            let status = if dry_run { StatusCode::OK } else { StatusCode::CREATED };
            (status, Json(json!({ "revision": revision, "dryRun": dry_run, "resolution": resolution }))).into_response()
        }
        ChangeOutcome::Refused(report) => (StatusCode::CONFLICT, Json(report)).into_response(),
    })
}

/// `POST /api/plugins/resolve {"operation": "install", "plugin": "argocd", "versions": {...}}`:
/// what the change would do, without doing it.
async fn resolve(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: ChangeRequest<Operation> = json_body(&body)?;
    apply(&state, &ctx, &me, request.change, &request.reason, true).await
}

#[derive(Deserialize)]
struct Install {
    plugin: String,
    #[serde(default)]
    versions: std::collections::BTreeMap<String, String>,
}

/// `POST /api/plugins/install {"plugin": "tech-radar", "versions": {"@…/plugin-tech-radar": "1.13.0"}}`
async fn install(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: ChangeRequest<Install> = json_body(&body)?;
    let Install { plugin, versions } = request.change;
    apply(&state, &ctx, &me, Operation::Install { plugin, versions }, &request.reason, false).await
}

#[derive(Deserialize)]
struct Update {
    #[serde(default)]
    packages: Vec<String>,
}

/// `PUT /api/plugins/update {"packages": [...]}`; no packages: every installed one ("update
/// all compatible", one revision).
async fn update(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: ChangeRequest<Update> = json_body(&body)?;
    apply(&state, &ctx, &me, Operation::Update { packages: request.change.packages }, &request.reason, false).await
}

#[derive(Deserialize)]
struct Named {
    plugin: String,
}

/// `DELETE /api/plugins/uninstall {"plugin": "tech-radar"}`
async fn uninstall(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: ChangeRequest<Named> = json_body(&body)?;
    apply(&state, &ctx, &me, Operation::Uninstall { plugin: request.change.plugin }, &request.reason, false).await
}

#[derive(Deserialize)]
struct Toggle {
    plugin: String,
    disabled: bool,
}

/// `POST /api/plugins/toggle {"plugin": "tech-radar", "disabled": true}`
async fn toggle(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: ChangeRequest<Toggle> = json_body(&body)?;
    let Toggle { plugin, disabled } = request.change;
    apply(&state, &ctx, &me, Operation::Toggle { plugin, disabled }, &request.reason, false).await
}

/// `GET /api/plugins/recommendations`: plugins the tenant's catalog asks for (annotations its
/// entities carry that a plugin reads), each with its reason.
async fn recommendations(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<Vec<app::plugins::model::Recommendation>>> {
    ctx.authorize(Action::PluginsRead)?;
    Ok(Json(app::plugins::recommend::recommendations(&state.db, &state.plugins, &ctx.tenant).await?))
}

/// `GET /api/plugins/config`: each installed package's configuration (`pluginConfig`) in the
/// current revision.
async fn config(State(state): State<AppState>, Extension(ctx): Extension<RequestContext>) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::PluginsRead)?;
    let (revision, packages) = service::configs(&state.db, &ctx.tenant).await?;
    Ok(Json(json!({ "revision": revision, "packages": packages })))
}

#[derive(Deserialize)]
struct Configure {
    package: String,
    /// A mapping, YAML text, or null to clear.
    #[serde(default)]
    config: Value,
}

/// `PUT /api/plugins/config {"package": "@x/plugin-y", "config": {...} | "yaml: text" | null}`:
/// a new revision with that package's configuration, checked first (409 with the problems).
async fn configure(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: ChangeRequest<Configure> = json_body(&body)?;
    let Configure { package, config } = request.change;
    let config = match config {
        Value::String(yaml) => app::plugins::config::parse_yaml(&yaml)?,
        Value::Null => None,
        // JSON is YAML: a mapping goes through the same size and shape checks as text.
        mapping @ Value::Object(_) => {
            app::plugins::config::parse_yaml(&serde_json::to_string(&mapping).unwrap_or_default())?
        }
        _ => return Err(super::invalid("`config` is a mapping, YAML text or null".into())),
    };
    apply(&state, &ctx, &me, Operation::Configure { package, config }, &request.reason, false).await
}

#[derive(Deserialize)]
struct Rollback {
    revision: i32,
}

/// `POST /api/plugins/rollback {"revision": 3}`: a new revision equal to revision 3.
async fn rollback(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: ChangeRequest<Rollback> = json_body(&body)?;
    apply(&state, &ctx, &me, Operation::Rollback { revision: request.change.revision }, &request.reason, false).await
}
