//! Server functions of the FinOps pages. Thin: check, call the service. Everyone in the tenant
//! reads costs; maintainers and admins import them.

use leptos::prelude::*;

use super::model::{CostImport, CostOverview};
use crate::error::AppError;

#[server(endpoint = "ui/finops/overview")]
pub async fn load_cost_overview(
    view: String,
    currency: Option<String>,
    month: Option<String>,
) -> Result<CostOverview, AppError> {
    use super::model::CostView;
    use super::service::{overview, parse_month};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            let month = month.as_deref().and_then(parse_month);
            overview(&state.db, &ctx.tenant, CostView::parse(&view), currency, month).await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/imports")]
pub async fn load_cost_imports() -> Result<Vec<CostImport>, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            super::import::recent(&state.db, &ctx.tenant).await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/import")]
pub async fn load_cost_import(id: String) -> Result<CostImport, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            let missing = || AppError::not_found("No such cost import.");
            let id = uuid::Uuid::parse_str(&id).map_err(|_| missing())?;
            super::import::load(&state.db, &ctx.tenant, id).await?.ok_or_else(missing)
        }
        .await,
    )
}

/// Starts importing an uploaded cost file and opens its progress page. A plain multipart form
/// posts here (works without JavaScript); the file goes to disk as it arrives, never whole
/// into memory.
#[server(endpoint = "ui/finops/upload", input = leptos::server_fn::codec::MultipartFormData)]
pub async fn upload_costs(data: leptos::server_fn::codec::MultipartData) -> Result<(), AppError> {
    use super::import::{start, ImportFile, ImportRequest};
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            let mut multipart = data.into_inner().ok_or_else(|| AppError::internal("multipart body missing"))?;
            let (mut source, mut currency, mut file) = (String::new(), String::from("USD"), None);
            while let Some(field) =
                multipart.next_field().await.map_err(|e| AppError::invalid(format!("upload: {e}")))?
            {
                match field.name().unwrap_or_default() {
                    "source" => source = field.text().await.map_err(|e| AppError::invalid(format!("upload: {e}")))?,
                    "currency" => {
                        currency = field.text().await.map_err(|e| AppError::invalid(format!("upload: {e}")))?
                    }
                    "file" => {
                        let name = field.file_name().unwrap_or("upload").to_owned();
                        file = Some((name, super::import::spool(field).await?));
                    }
                    _ => {}
                }
            }
            let Some((name, path)) = file else { return Err(AppError::invalid("Choose a cost file.")) };
            let request = match ImportRequest::parse(&source, &name, &currency) {
                Ok(request) => request,
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            let file = ImportFile { path, remove_after: true };
            let id = start(&state.db, &ctx.tenant, ctx.audit_source(), request, file).await?;
            leptos_axum::redirect(&format!("/finops/imports/{id}"));
            Ok(())
        }
        .await,
    )
}

/// The rule a preview form describes, as the server reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleForm {
    pub kind: String,
    pub key: String,
    pub pattern: String,
    /// The catalog entity, or for a shared rule the pool's name.
    pub target: String,
    /// 1-based; empty means at the end.
    pub position: String,
    /// Empty: the whole cost to `target`; else how the pool is split (even, proportional, fixed).
    #[serde(default)]
    pub split: String,
    /// A shared rule's recipients: `checkout, team-a`, with percents for a fixed split.
    #[serde(default)]
    pub recipients: String,
}

#[cfg(feature = "ssr")]
impl RuleForm {
    fn rule(&self) -> Result<super::model::AllocationRule, AppError> {
        use super::allocation::{parse_rule, parse_shared_rule};
        match self.split.trim() {
            "" => parse_rule(&self.kind, &self.key, &self.pattern, &self.target),
            split => parse_shared_rule((&self.kind, &self.key, &self.pattern), &self.target, split, &self.recipients),
        }
    }
}

#[server(endpoint = "ui/finops/allocation")]
pub async fn load_allocation(preview: Option<RuleForm>) -> Result<super::model::AllocationPage, AppError> {
    use super::allocation::page;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            // A form without a target only fills the fields (the "create a rule" links).
            let preview = preview.filter(|p| !p.target.trim().is_empty());
            let (rule, error) = match preview {
                None => (None, None),
                Some(form) => match form.rule() {
                    Ok(rule) => (Some((rule, position(&form.position)?.unwrap_or(usize::MAX))), None),
                    Err(e) => (None, Some(e.to_string())),
                },
            };
            page(&state.db, &ctx.tenant, rule, error).await
        }
        .await,
    )
}

/// `1` → index 0; empty → none (the end of the list).
#[cfg(feature = "ssr")]
fn position(raw: &str) -> Result<Option<usize>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        raw => raw
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| Some(n - 1))
            .ok_or_else(|| AppError::invalid("The position is a rule number from 1.")),
    }
}

/// `revision` is the one the form was shown with: "" for none yet.
#[cfg(feature = "ssr")]
fn expected_revision(raw: &str) -> Result<Option<i32>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        raw => raw.parse().map(Some).map_err(|_| AppError::invalid("Reload the page and try again.")),
    }
}

#[server(endpoint = "ui/finops/allocation/add")]
pub async fn add_allocation_rule(rule: RuleForm, revision: String) -> Result<(), AppError> {
    use super::allocation::add_rule;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            let parsed = rule.rule()?;
            let expected = expected_revision(&revision)?;
            add_rule(&state.db, &ctx.tenant, &ctx.audit_source(), expected, parsed, position(&rule.position)?).await?;
            leptos_axum::redirect("/finops/allocation");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/allocation/remove")]
pub async fn remove_allocation_rule(index: usize, revision: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            let expected = expected_revision(&revision)?;
            super::allocation::remove_rule(&state.db, &ctx.tenant, &ctx.audit_source(), expected, index).await?;
            leptos_axum::redirect("/finops/allocation");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/allocation/restore")]
pub async fn restore_allocation_rules(revision: i32) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            super::allocation::restore(&state.db, &ctx.tenant, &ctx.audit_source(), revision).await?;
            leptos_axum::redirect("/finops/allocation");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/entity-cost")]
pub async fn load_entity_cost(
    namespace: String,
    kind: String,
    name: String,
) -> Result<Option<super::model::EntityCost>, AppError> {
    use crate::auth::permission::Action;
    use crate::catalog::refs::EntityRef;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            super::allocation::entity_cost(&state.db, &ctx.tenant, &EntityRef::new(&kind, &namespace, &name)).await
        }
        .await,
    )
}

/// The cost anomalies of what a team (a group) owns.
#[server(endpoint = "ui/finops/team-anomalies")]
pub async fn load_team_anomalies(namespace: String, name: String) -> Result<Vec<super::model::AnomalyView>, AppError> {
    use crate::auth::permission::Action;
    use crate::catalog::refs::EntityRef;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            super::anomalies::of_group(&state.db, &ctx.tenant, &EntityRef::new("group", &namespace, &name)).await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/budgets")]
pub async fn load_budgets() -> Result<Vec<super::model::BudgetView>, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            super::budgets::overview(&state.db, &ctx.tenant).await
        }
        .await,
    )
}

/// A budget from the form: `scope` empty for the whole organisation, `thresholds` like
/// `80, 100 forecast`.
#[server(endpoint = "ui/finops/budgets/add")]
pub async fn add_budget(
    name: String,
    scope: String,
    period: String,
    metric: String,
    amount: String,
    currency: String,
    thresholds: String,
) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            let new = super::budgets::NewBudget {
                name: &name,
                scope: &scope,
                period: &period,
                metric: &metric,
                amount: &amount,
                currency: &currency,
                thresholds: &thresholds,
            };
            super::budgets::add(&state.db, &ctx.tenant, ctx.audit_source(), new).await.map(drop)
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/budgets/remove")]
pub async fn remove_budget(id: uuid::Uuid) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            super::budgets::remove(&state.db, &ctx.tenant, ctx.audit_source(), id).await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/anomalies")]
pub async fn load_anomalies() -> Result<super::model::AnomaliesView, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsRead).await?;
            super::anomalies::overview(&state.db, &ctx.tenant).await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/anomalies/acknowledge")]
pub async fn acknowledge_anomaly(
    target: String,
    service: String,
    currency: String,
    day: chrono::NaiveDate,
) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            let key = (target, service, currency, day);
            super::anomalies::acknowledge(&state.db, &ctx.tenant, ctx.audit_source(), key).await
        }
        .await,
    )
}

/// The reporting currency and the rates of the converted view (no rates remove it).
#[server(endpoint = "ui/finops/currency-rates")]
pub async fn set_currency_rates(reporting: String, rates: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            super::service::set_currency_rates(&state.db, &ctx.tenant, ctx.audit_source(), &reporting, &rates).await
        }
        .await,
    )
}

/// What an engineer costs a month (an empty amount clears it).
#[server(endpoint = "ui/finops/engineer-cost")]
pub async fn set_engineer_cost(monthly_cost: String, currency: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            super::service::set_engineer_rate(&state.db, &ctx.tenant, ctx.audit_source(), &monthly_cost, &currency)
                .await
        }
        .await,
    )
}

#[server(endpoint = "ui/finops/anomalies/floors")]
pub async fn set_anomaly_floors(absolute_floor: String, percent_floor: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::FinopsWrite).await?;
            super::anomalies::set_floors(&state.db, &ctx.tenant, ctx.audit_source(), &absolute_floor, &percent_floor)
                .await
        }
        .await,
    )
}
