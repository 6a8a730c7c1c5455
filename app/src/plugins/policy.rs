//! A tenant's restriction of the directory ("only supported plugins", "never this one", "only
//! active ones"): what it hides from browsing, the install it refuses with its reason, and the
//! admin's change of it (audited). Installed plugins outside a new policy stay and may be
//! updated: a policy never removes what runs.

use chrono::Utc;
use serde_json::json;

use super::directory::{Directory, PluginInfo};
use super::model::{ConflictReport, Policy, Staleness};
use super::repo;
use super::service::{self, default_platform, Plugins};
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::{Tenant, TenantId};

/// The support levels the directory knows, in the order the settings form shows them
/// (`private`: the tenant's own entries).
pub const SUPPORT_LEVELS: [&str; 5] = ["supported", "tech-preview", "dev-preview", "community", "private"];
/// The most plugins a policy may block.
const MAX_BLOCKED: usize = 500;

impl Policy {
    /// Why the policy does not allow `plugin`, in a sentence; `None` when it does.
    pub fn refusal(&self, directory: &Directory, plugin: &PluginInfo) -> Option<String> {
        if self.blocked.contains(&plugin.id) {
            return Some(format!("Your organisation's policy blocks {}.", plugin.title));
        }
        if !self.support.is_empty() && !self.support.contains(&plugin.support) {
            return Some(format!(
                "Your organisation's policy allows only {} plugins; {} is {}.",
                self.support.join(", "),
                plugin.title,
                plugin.support
            ));
        }
        if self.active_only && directory.staleness(plugin, Utc::now()) != Staleness::Active {
            return Some(format!(
                "Your organisation's policy allows only plugins published in the last year; {} is not.",
                plugin.title
            ));
        }
        None
    }

    /// The refusal of the first of the `added` plugins (a change's installs, the plugins a
    /// rollback brings back) the policy does not allow. Plugins `tenant` cannot see are not
    /// judged here: the change answers for them as for ids that do not exist.
    pub fn refuses(&self, directory: &Directory, tenant: TenantId, added: &[&str]) -> Option<ConflictReport> {
        let why = added
            .iter()
            .filter_map(|id| directory.plugin(id).filter(|p| p.visible_to(tenant)))
            .find_map(|p| self.refusal(directory, p))?;
        Some(ConflictReport {
            explanation: vec![why],
            suggestions: vec!["An admin can change the policy in Settings → Plugins.".to_owned()],
            alternatives: Vec::new(),
        })
    }

    /// Refuses a policy naming a support level, or newly blocking a plugin the tenant's directory
    /// does not know (one blocked before stays blocked after it left the directory).
    fn check(&self, directory: &Directory, tenant: TenantId, before: &Policy) -> AppResult<()> {
        if self.support.len() > SUPPORT_LEVELS.len() {
            return Err(AppError::invalid("Name each support level at most once."));
        }
        if let Some(level) = self.support.iter().find(|s| !SUPPORT_LEVELS.contains(&s.as_str())) {
            return Err(AppError::invalid(format!(
                "`{}` is not a support level; use {}.",
                crate::error::typed(level, "A support level", 64)?,
                SUPPORT_LEVELS.join(", ")
            )));
        }
        if self.blocked.len() > MAX_BLOCKED {
            return Err(AppError::invalid(format!("A policy blocks at most {MAX_BLOCKED} plugins.")));
        }
        let known =
            |id: &String| before.blocked.contains(id) || directory.plugin(id).is_some_and(|p| p.visible_to(tenant));
        if let Some(unknown) = self.blocked.iter().find(|id| !known(id)) {
            return Err(AppError::invalid(format!(
                "No plugin `{}` in the directory.",
                crate::error::typed(unknown, "A plugin id", 200)?
            )));
        }
        Ok(())
    }
}

/// Sets the tenant's policy (audited with the one before).
pub async fn set(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: AuditSource,
    policy: Policy,
) -> AppResult<()> {
    let (plugins, tenant_id) = (plugins.clone(), tenant.id);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let directory = plugins.directory(conn).await?;
            let mut policy = policy;
            let before = repo::lock_platform(conn, &default_platform(&directory)).await?;
            policy.check(&directory, tenant_id, &before.policy)?;
            policy.support.sort();
            policy.support.dedup();
            policy.blocked.sort();
            policy.blocked.dedup();
            if before.policy == policy {
                return Ok(());
            }
            repo::set_policy(conn, &policy).await?;
            let event = AuditEvent::success(AuditAction::PluginPolicyChanged, policy.describe())
                .details(json!({ "before": before.policy, "after": policy }));
            record(conn, &source, event).await
        })
    })
    .await
}

/// The tenant's policy (the empty one before an admin set any).
pub async fn current(db: &Database, plugins: &Plugins, tenant: &Tenant) -> AppResult<Policy> {
    let plugins = plugins.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let directory = plugins.directory(conn).await?;
            Ok(service::platform(conn, &directory).await?.policy)
        })
    })
    .await
}
