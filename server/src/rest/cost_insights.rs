//! `/api/cost-insights/*`: one route per method of Backstage's Cost Insights client
//! (`CostInsightsApi`), answering in its types, so a Backstage app's client is a fetch per
//! method. Ids of groups and projects are entity refs; bare names default to a group (or a
//! component for projects, a user for `userId`) in the default namespace.

use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::{Extension, Json};

use super::{ApiResult, Endpoint, Params};
use app::auth::permission::Action;
use app::catalog::refs::EntityRef;
use app::error::AppError;
use app::finops::cost_insights::{self as insights, Alert, Cost, InsightEntity, Intervals, Named, Subject};
use app::state::{AppState, RequestContext};

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/api/cost-insights/last-complete-billing-date", last_complete_billing_date),
        Endpoint::new(Method::GET, "/api/cost-insights/user-groups", user_groups),
        Endpoint::new(Method::GET, "/api/cost-insights/group-projects", group_projects),
        Endpoint::new(Method::GET, "/api/cost-insights/group-daily-cost", group_daily_cost),
        Endpoint::new(Method::GET, "/api/cost-insights/project-daily-cost", project_daily_cost),
        Endpoint::new(Method::GET, "/api/cost-insights/entity-daily-cost", entity_daily_cost),
        Endpoint::new(Method::GET, "/api/cost-insights/product-insights", product_insights),
        Endpoint::new(Method::GET, "/api/cost-insights/alerts", alerts),
    ]
}

/// `getLastCompleteBillingDate`: `"YYYY-MM-DD"`, the newest day with allocated cost.
async fn last_complete_billing_date(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<String>> {
    ctx.authorize(Action::FinopsRead)?;
    Ok(Json(insights::last_complete_billing_date(&state.db, &ctx.tenant).await?.to_string()))
}

/// `getUserGroups(userId)`: `?userId=user:default/jdoe`.
async fn user_groups(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<Named>>> {
    ctx.authorize(Action::FinopsRead)?;
    let user = entity(&Params::parse(raw)?, "userId", "user")?;
    Ok(Json(insights::user_groups(&state.db, &ctx.tenant, &user).await?))
}

/// `getGroupProjects(group)`: `?group=group:default/team-a`.
async fn group_projects(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<Named>>> {
    ctx.authorize(Action::FinopsRead)?;
    let group = entity(&Params::parse(raw)?, "group", "group")?;
    Ok(Json(insights::group_projects(&state.db, &ctx.tenant, &group).await?))
}

/// `getGroupDailyCost(group, intervals)`: grouped by project (`groupedCosts.project`).
async fn group_daily_cost(
    state: State<AppState>,
    ctx: Extension<RequestContext>,
    raw: RawQuery,
) -> ApiResult<Json<Cost>> {
    daily_cost(state, ctx, raw, "group", "group").await
}

/// `getProjectDailyCost(project, intervals)`.
async fn project_daily_cost(
    state: State<AppState>,
    ctx: Extension<RequestContext>,
    raw: RawQuery,
) -> ApiResult<Json<Cost>> {
    daily_cost(state, ctx, raw, "project", "component").await
}

/// `getCatalogEntityDailyCost(catalogEntityRef, intervals)`: `?entityRef=…`.
async fn entity_daily_cost(
    state: State<AppState>,
    ctx: Extension<RequestContext>,
    raw: RawQuery,
) -> ApiResult<Json<Cost>> {
    daily_cost(state, ctx, raw, "entityRef", "component").await
}

/// `?<key>=<ref>&intervals=R2/P30D/2020-09-01[&currency=EUR]`: a group's cost covers what it
/// owns; any other entity's, what is allocated to it.
async fn daily_cost(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
    key: &str,
    default_kind: &str,
) -> ApiResult<Json<Cost>> {
    ctx.authorize(Action::FinopsRead)?;
    let params = Params::parse(raw)?;
    let subject = subject(entity(&params, key, default_kind)?);
    let (intervals, currency) = window(&params)?;
    Ok(Json(insights::daily_cost(&state.db, &ctx.tenant, subject, intervals, currency).await?))
}

/// `getProductInsights({product, group, intervals, project})`:
/// `?product=Amazon%20Simple%20Storage%20Service&group=team-a[&project=checkout]&intervals=…`,
/// the product being a cloud service as the bills name it.
async fn product_insights(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<InsightEntity>> {
    ctx.authorize(Action::FinopsRead)?;
    let params = Params::parse(raw)?;
    let product = params
        .one("product")
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.len() <= 256 && !p.contains('\0'))
        .ok_or_else(|| AppError::invalid("?product=<a cloud service, as the bills name it> is required"))?
        .to_owned();
    let subject = match params.one("project").filter(|p| !p.trim().is_empty()) {
        Some(_) => subject(entity(&params, "project", "component")?),
        None => subject(entity(&params, "group", "group")?),
    };
    let (intervals, currency) = window(&params)?;
    Ok(Json(insights::product_insights(&state.db, &ctx.tenant, (product, subject), intervals, currency).await?))
}

/// `getAlerts(group)`: `?group=team-a`, the cost anomalies of what the group owns.
async fn alerts(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<Alert>>> {
    ctx.authorize(Action::FinopsRead)?;
    let group = entity(&Params::parse(raw)?, "group", "group")?;
    Ok(Json(insights::alerts(&state.db, &ctx.tenant, &group).await?))
}

/// A group's cost covers what it owns; any other entity's, what is allocated to it.
fn subject(entity: EntityRef) -> Subject {
    match entity.kind.eq_ignore_ascii_case("group") {
        true => Subject::Group(entity),
        false => Subject::Entity(entity),
    }
}

/// `intervals` (required) and `currency` (optional).
fn window(params: &Params) -> ApiResult<(Intervals, Option<String>)> {
    let intervals = Intervals::parse(
        params
            .one("intervals")
            .ok_or_else(|| AppError::invalid("Say which days: ?intervals=R2/P30D/<the day after the last one>"))?,
    )?;
    let currency = params.one("currency").map(str::to_owned);
    if currency.as_deref().is_some_and(|c| c.len() != 3 || !c.chars().all(|c| c.is_ascii_alphabetic())) {
        return Err(AppError::invalid("currency is a three-letter ISO 4217 code, e.g. USD").into());
    }
    Ok((intervals, currency))
}

fn entity(params: &Params, key: &str, default_kind: &str) -> ApiResult<EntityRef> {
    let raw = params.one(key).ok_or_else(|| AppError::invalid(format!("?{key}=<entity ref> is required")))?;
    Ok(EntityRef::parse(raw, Some(default_kind), "default").map_err(AppError::Invalid)?)
}
