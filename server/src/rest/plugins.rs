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
use app::plugins::insights;
use app::plugins::model::{
    Browse, BrowseQuery, ChangeOutcome, CompatibilityReport, DependencyGraph, HealthReport, PackageChange,
    PluginDetail, PluginHealth, PluginSetMetrics, Policy, TenantPlugins,
};
use app::plugins::requests::Shown;
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
        Endpoint::new(Method::POST, "/api/plugins/operations", operations),
        Endpoint::new(Method::GET, "/api/plugins/dependencies", dependencies),
        Endpoint::new(Method::GET, "/api/plugins/compatibility", compatibility),
        Endpoint::new(Method::GET, "/api/plugins/metrics", metrics),
        Endpoint::new(Method::GET, "/api/plugins/policy", policy),
        Endpoint::new(Method::PUT, "/api/plugins/policy", set_policy),
        Endpoint::new(Method::GET, "/api/plugins/requests", requests),
        Endpoint::new(Method::POST, "/api/plugins/requests", file_request),
        Endpoint::new(Method::POST, "/api/plugins/requests/{id}/approve", approve_request),
        Endpoint::new(Method::POST, "/api/plugins/requests/{id}/reject", reject_request),
        Endpoint::new(Method::GET, "/api/plugins/private", private_plugins),
        Endpoint::new(Method::POST, "/api/plugins/private", add_private),
        Endpoint::new(Method::DELETE, "/api/plugins/private/{id}", remove_private),
        Endpoint::new(Method::GET, "/api/plugins/openapi.json", openapi),
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
    ctx.authorize(Action::PluginsRead)?;
    let (manage, request) = (ctx.may(Action::PluginsManage), ctx.may(Action::PluginsRequest));
    Ok(Json(service::plugin(&state.db, &state.plugins, &ctx.tenant, &id, manage, request).await?))
}

/// `GET /api/plugins/installed`: platform, installed packages with updates, history.
async fn installed(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<TenantPlugins>> {
    let me = ctx.authorize(Action::PluginsRead)?;
    let (manage, request) = (ctx.may(Action::PluginsManage), ctx.may(Action::PluginsRequest));
    let shown = Shown::for_member(me, manage, request);
    Ok(Json(service::tenant_plugins(&state.db, &state.plugins, &ctx.tenant, manage, shown).await?))
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
struct WithReason<T> {
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
    let change = Change { operation, reason: reason.to_owned(), dry_run, request: None };
    let outcome = service::change(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), me, change).await?;
    Ok(change_response(outcome, dry_run))
}

/// 201 with the revision (200 for a dry run), or 409 with the conflict explained.
fn change_response(outcome: ChangeOutcome, dry_run: bool) -> Response {
    match outcome {
        ChangeOutcome::Applied { revision, resolution } => {
            let status = if dry_run { StatusCode::OK } else { StatusCode::CREATED };
            (status, Json(json!({ "revision": revision, "dryRun": dry_run, "resolution": resolution }))).into_response()
        }
        ChangeOutcome::Refused(report) => (StatusCode::CONFLICT, Json(report)).into_response(),
    }
}

/// `POST /api/plugins/resolve {"operation": "install", "plugin": "argocd", "versions": {...}}`:
/// what the change would do, without doing it.
async fn resolve(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: WithReason<Operation> = json_body(&body)?;
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
    let request: WithReason<Install> = json_body(&body)?;
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
    let request: WithReason<Update> = json_body(&body)?;
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
    let request: WithReason<Named> = json_body(&body)?;
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
    let request: WithReason<Toggle> = json_body(&body)?;
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
    let request: WithReason<Configure> = json_body(&body)?;
    let Configure { package, config } = request.change;
    // A mapping or YAML text; `Operation::check` puts either in the one shape a revision holds.
    let config = (!config.is_null()).then_some(config);
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
    let request: WithReason<Rollback> = json_body(&body)?;
    apply(&state, &ctx, &me, Operation::Rollback { revision: request.change.revision }, &request.reason, false).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operations {
    operations: Vec<Operation>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/plugins/operations {"operations": [{"operation": "install", ...}, ...], "reason",
/// "dryRun"}`: several changes, each on the result of the one before, as one revision.
async fn operations(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let request: Operations = json_body(&body)?;
    let operation = Operation::Bulk { operations: request.operations };
    apply(&state, &ctx, &me, operation, &request.reason, request.dry_run).await
}

/// `GET /api/plugins/dependencies`: the current set as a graph.
async fn dependencies(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<DependencyGraph>> {
    ctx.authorize(Action::PluginsRead)?;
    Ok(Json(insights::dependencies(&state.db, &state.plugins, &ctx.tenant).await?))
}

/// `GET /api/plugins/compatibility?release=1.46.0`: whether the set runs on that release and
/// what moving there would change.
async fn compatibility(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<CompatibilityReport>> {
    ctx.authorize(Action::PluginsRead)?;
    let params = Params::parse(raw)?;
    let release = params.one("release").ok_or_else(|| super::invalid("`release` names a Backstage release".into()))?;
    Ok(Json(insights::compatibility(&state.db, &state.plugins, &ctx.tenant, release).await?))
}

/// `GET /api/plugins/metrics`: the set, its changes and health in numbers.
async fn metrics(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<PluginSetMetrics>> {
    ctx.authorize(Action::PluginsRead)?;
    Ok(Json(insights::metrics(&state.db, &state.plugins, &ctx.tenant).await?))
}

/// `GET /api/plugins/policy`: the tenant's restriction of the directory.
async fn policy(State(state): State<AppState>, Extension(ctx): Extension<RequestContext>) -> ApiResult<Json<Policy>> {
    ctx.authorize(Action::PluginsRead)?;
    Ok(Json(app::plugins::policy::current(&state.db, &state.plugins, &ctx.tenant).await?))
}

/// `PUT /api/plugins/policy {"support": ["supported"], "blocked": [], "active_only": false}`
async fn set_policy(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::PluginsManage)?;
    let policy: Policy = json_body(&body)?;
    app::plugins::policy::set(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), policy).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/plugins/requests`: changes maintainers asked for, pending first — every one for
/// admins, their own for maintainers.
async fn requests(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<Vec<app::plugins::model::ChangeRequest>>> {
    let me = ctx.authorize(Action::PluginsRequest)?;
    let shown = Shown::for_member(me, ctx.may(Action::PluginsManage), true);
    Ok(Json(app::plugins::requests::list(&state.db, &ctx.tenant, shown).await?))
}

/// `POST /api/plugins/requests {"operation": "install", "plugin": "tech-radar", "reason": "…"}`:
/// 201 with the request and what it would do, or 409 when it could not be made (not filed).
async fn file_request(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = ctx.authorize(Action::PluginsRequest)?.clone();
    let request: WithReason<Operation> = json_body(&body)?;
    let filed = app::plugins::requests::file(
        &state.db,
        &state.plugins,
        &ctx.tenant,
        ctx.audit_source(),
        &me,
        request.change,
        request.reason,
    )
    .await?;
    Ok(match filed {
        Ok((id, resolution)) => {
            (StatusCode::CREATED, Json(json!({ "id": id, "resolution": resolution }))).into_response()
        }
        Err(report) => (StatusCode::CONFLICT, Json(report)).into_response(),
    })
}

/// `POST /api/plugins/requests/{id}/approve`: the request's change, made now (201), or why not
/// (409; the request stays pending).
async fn approve_request(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let me = manager(&ctx)?;
    let outcome = app::plugins::requests::approve(
        &state.db,
        &state.plugins,
        &ctx.tenant,
        ctx.audit_source(),
        &me,
        app::plugins::requests::parse_id(&id)?,
    )
    .await?;
    Ok(change_response(outcome, false))
}

#[derive(Deserialize)]
struct Reject {
    #[serde(default)]
    note: String,
}

/// `POST /api/plugins/requests/{id}/reject {"note": "…"}`
async fn reject_request(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let me = manager(&ctx)?;
    let Reject { note } = if body.is_empty() { Reject { note: String::new() } } else { json_body(&body)? };
    app::plugins::requests::reject(
        &state.db,
        &ctx.tenant,
        ctx.audit_source(),
        &me,
        app::plugins::requests::parse_id(&id)?,
        note,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/plugins/openapi.json`: this API described, kept next to the handlers (YAML, served
/// as JSON); tests hold it to the endpoint table both ways.
async fn openapi(Extension(ctx): Extension<RequestContext>) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::PluginsRead)?;
    const OPENAPI: &str = include_str!("plugins_openapi.yaml");
    serde_norway::from_str(OPENAPI).map(Json).map_err(|e| super::ApiError(app::error::AppError::internal(e)))
}

/// `GET /api/plugins/private`: the tenant's own directory entries.
async fn private_plugins(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<Vec<app::plugins::model::PrivatePlugin>>> {
    ctx.authorize(Action::PluginsRead)?;
    Ok(Json(app::plugins::private::of_tenant(&state.db, &state.plugins, &ctx.tenant).await?))
}

#[derive(Deserialize)]
struct NewPrivate {
    name: String,
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    category: String,
    packages: Vec<String>,
}

/// `POST /api/plugins/private {"name": "costs", "title": "Acme Costs", "packages": ["@acme/…"]}`:
/// 201 with the entry (its id is `t<tenant>.<name>`) and the versions read from the registry.
async fn add_private(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<app::plugins::model::PrivatePlugin>)> {
    ctx.authorize(Action::PluginsManage)?;
    let NewPrivate { name, title, summary, category, packages } = json_body(&body)?;
    let new = app::plugins::private::NewPrivate { name, title, summary, category, packages };
    let added = app::plugins::private::add(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), new).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// `DELETE /api/plugins/private/{id}`: what runs stays installed until it is uninstalled.
async fn remove_private(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::PluginsManage)?;
    app::plugins::private::remove(&state.db, &ctx.tenant, ctx.audit_source(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
