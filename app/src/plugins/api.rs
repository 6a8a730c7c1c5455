//! Server functions of the plugin pages. Thin: check, call `plugins::service`. A change that the
//! solver refuses comes back as a 409 whose message is the explanation and the suggestions, so
//! the form shows it with or without JavaScript.

use leptos::prelude::*;

use super::model::{Browse, BrowseQuery, PackageChange, PluginDetail, TenantPlugins};
use crate::error::AppError;

#[server(endpoint = "ui/plugins")]
pub async fn load_plugins(query: BrowseQuery) -> Result<Browse, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsRead).await?;
            super::service::browse(&state.db, &state.plugins, &ctx.tenant, query).await
        }
        .await,
    )
}

#[server(endpoint = "ui/plugins/plugin")]
pub async fn load_plugin(id: String) -> Result<PluginDetail, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsRead).await?;
            let (manage, request) = (ctx.may(Action::PluginsManage), ctx.may(Action::PluginsRequest));
            super::service::plugin(&state.db, &state.plugins, &ctx.tenant, &id, manage, request).await
        }
        .await,
    )
}

#[server(endpoint = "ui/plugins/installed")]
pub async fn load_tenant_plugins() -> Result<TenantPlugins, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, me } = authorized(Action::PluginsRead).await?;
            let (manage, request) = (ctx.may(Action::PluginsManage), ctx.may(Action::PluginsRequest));
            let shown = super::requests::Shown::for_member(&me, manage, request);
            super::service::tenant_plugins(&state.db, &state.plugins, &ctx.tenant, manage, shown).await
        }
        .await,
    )
}

#[server(endpoint = "ui/plugins/compare")]
pub async fn compare_revisions(from: i32, to: i32) -> Result<Vec<PackageChange>, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsRead).await?;
            super::service::compare(&state.db, &ctx.tenant, from, to).await
        }
        .await,
    )
}

#[server(endpoint = "ui/plugins/platform")]
pub async fn set_plugin_platform(runtime: String, release: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsManage).await?;
            super::service::set_platform(
                &state.db,
                &state.plugins,
                &ctx.tenant,
                ctx.audit_source(),
                &runtime,
                &release,
            )
            .await?;
            leptos_axum::redirect("/settings/plugins");
            Ok(())
        }
        .await,
    )
}

/// Runs one change for the pages: to Settings → Plugins when it is made, a 409 explaining why
/// when the solver refuses it.
#[cfg(feature = "ssr")]
async fn run(operation: super::service::Operation, reason: String) -> Result<(), AppError> {
    use super::model::ChangeOutcome;
    use crate::auth::permission::Action;
    use crate::state::{authorized, Authorized};

    let Authorized { ctx, state, me } = authorized(Action::PluginsManage).await?;
    let change = super::service::Change { operation, reason, dry_run: false, request: None };
    let outcome =
        super::service::change(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), &me, change).await?;
    match outcome {
        ChangeOutcome::Applied { .. } => {
            leptos_axum::redirect("/settings/plugins");
            Ok(())
        }
        ChangeOutcome::Refused(report) => Err(refusal(report)),
    }
}

/// Installs a plugin: every package a runtime loads at its newest fitting version, or, with
/// `package` and `version`, that version of that package.
#[server(endpoint = "ui/plugins/install")]
pub async fn install_plugin(
    plugin: String,
    #[server(default)] package: String,
    #[server(default)] version: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    use super::service::Operation;
    use crate::error::respond;

    let versions = if package.trim().is_empty() {
        Default::default()
    } else {
        let range = if version.trim().is_empty() { "*".to_owned() } else { version.trim().to_owned() };
        [(package.trim().to_owned(), range)].into_iter().collect()
    };
    respond(run(Operation::Install { plugin, versions }, reason).await)
}

/// Updates one installed package, or every installed package when `package` is empty.
#[server(endpoint = "ui/plugins/update")]
pub async fn update_plugins(#[server(default)] package: String) -> Result<(), AppError> {
    use super::service::Operation;
    use crate::error::respond;

    let packages = if package.trim().is_empty() { Vec::new() } else { vec![package.trim().to_owned()] };
    respond(run(Operation::Update { packages }, String::new()).await)
}

#[server(endpoint = "ui/plugins/uninstall")]
pub async fn uninstall_plugin(plugin: String) -> Result<(), AppError> {
    use super::service::Operation;
    use crate::error::respond;

    respond(run(Operation::Uninstall { plugin }, String::new()).await)
}

/// `disabled` is "true" or "false" (a form's hidden field).
#[server(endpoint = "ui/plugins/toggle")]
pub async fn toggle_plugin(plugin: String, disabled: String) -> Result<(), AppError> {
    use super::service::Operation;
    use crate::error::respond;

    respond(run(Operation::Toggle { plugin, disabled: disabled == "true" }, String::new()).await)
}

#[server(endpoint = "ui/plugins/rollback")]
pub async fn rollback_plugins(revision: i32) -> Result<(), AppError> {
    use super::service::Operation;
    use crate::error::respond;

    respond(run(Operation::Rollback { revision }, String::new()).await)
}

/// Sets one installed package's configuration from YAML (empty clears it); checked against
/// its schema, for plain secrets and for keys another package sets before any revision.
#[server(endpoint = "ui/plugins/configure")]
pub async fn configure_plugin(
    package: String,
    #[server(default)] config: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    use super::service::Operation;
    use crate::error::respond;

    // The YAML text is parsed and checked with the operation, after the role check.
    let config = Some(serde_json::Value::String(config));
    respond(run(Operation::Configure { package, config }, reason).await)
}

#[server(endpoint = "ui/plugins/recommendations")]
pub async fn load_plugin_recommendations() -> Result<Vec<super::model::Recommendation>, AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsRead).await?;
            super::recommend::recommendations(&state.db, &state.plugins, &ctx.tenant).await
        }
        .await,
    )
}

/// A maintainer asks an admin to install a plugin (filed only when it could be made now).
#[server(endpoint = "ui/plugins/request")]
pub async fn request_plugin_install(plugin: String, #[server(default)] reason: String) -> Result<(), AppError> {
    use super::service::Operation;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, me } = authorized(Action::PluginsRequest).await?;
            let operation = Operation::Install { plugin, versions: Default::default() };
            match super::requests::file(
                &state.db,
                &state.plugins,
                &ctx.tenant,
                ctx.audit_source(),
                &me,
                operation,
                reason,
            )
            .await?
            {
                Ok(_) => {
                    leptos_axum::redirect("/settings/plugins#requests");
                    Ok(())
                }
                Err(report) => Err(refusal(report)),
            }
        }
        .await,
    )
}

/// An admin approves a maintainer's request: its change, made now.
#[server(endpoint = "ui/plugins/request/approve")]
pub async fn approve_plugin_request(id: String) -> Result<(), AppError> {
    use super::model::ChangeOutcome;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, me } = authorized(Action::PluginsManage).await?;
            let id = super::requests::parse_id(&id)?;
            let outcome =
                super::requests::approve(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), &me, id).await?;
            match outcome {
                ChangeOutcome::Applied { .. } => {
                    leptos_axum::redirect("/settings/plugins#requests");
                    Ok(())
                }
                ChangeOutcome::Refused(report) => Err(refusal(report)),
            }
        }
        .await,
    )
}

#[server(endpoint = "ui/plugins/request/reject")]
pub async fn reject_plugin_request(id: String, #[server(default)] note: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, me } = authorized(Action::PluginsManage).await?;
            super::requests::reject(
                &state.db,
                &ctx.tenant,
                ctx.audit_source(),
                &me,
                super::requests::parse_id(&id)?,
                note,
            )
            .await?;
            leptos_axum::redirect("/settings/plugins#requests");
            Ok(())
        }
        .await,
    )
}

/// The tenant's restriction of the directory. `support` is the form's repeated checkbox;
/// `blocked` plugin ids separated by commas or spaces; `active_only` is "on" when ticked.
#[server(endpoint = "ui/plugins/policy")]
pub async fn set_plugin_policy(
    #[server(default)] support: Vec<String>,
    #[server(default)] blocked: String,
    #[server(default)] active_only: String,
) -> Result<(), AppError> {
    use super::model::Policy;
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsManage).await?;
            let blocked = blocked.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
            let policy = Policy { support, blocked: blocked.collect(), active_only: active_only == "on" };
            super::policy::set(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), policy).await?;
            leptos_axum::redirect("/settings/plugins");
            Ok(())
        }
        .await,
    )
}

/// A refusal for the pages: the explanation and the suggestions, as a 409.
#[cfg(feature = "ssr")]
fn refusal(report: super::model::ConflictReport) -> AppError {
    let mut text = report.explanation;
    text.extend(report.suggestions);
    AppError::Conflict(text.join(" "))
}

/// Adds one of the tenant's own plugins. `packages` are npm names separated by commas, spaces
/// or lines, the main one first.
#[server(endpoint = "ui/plugins/private/add")]
pub async fn add_private_plugin(
    name: String,
    title: String,
    #[server(default)] summary: String,
    #[server(default)] category: String,
    packages: String,
) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsManage).await?;
            let packages = packages.split([',', ' ', '\n']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
            let new = super::private::NewPrivate { name, title, summary, category, packages: packages.collect() };
            super::private::add(&state.db, &state.plugins, &ctx.tenant, ctx.audit_source(), new).await?;
            leptos_axum::redirect("/settings/plugins#private");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "ui/plugins/private/remove")]
pub async fn remove_private_plugin(id: String) -> Result<(), AppError> {
    use crate::auth::permission::Action;
    use crate::error::respond;
    use crate::state::{authorized, Authorized};

    respond(
        async {
            let Authorized { ctx, state, .. } = authorized(Action::PluginsManage).await?;
            super::private::remove(&state.db, &ctx.tenant, ctx.audit_source(), &id).await?;
            leptos_axum::redirect("/settings/plugins#private");
            Ok(())
        }
        .await,
    )
}
