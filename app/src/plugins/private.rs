//! A tenant's own directory entries: plugins its teams publish to the registry Beacon reads
//! (`BEACON_NPM_REGISTRY`), entered by an admin with their packages. They live in the shared
//! directory tables with the tenant as owner, read from the registry like every package, and
//! are seen, installed, governed and recommended only in that tenant; another tenant gets "not
//! found" for them, as for a plugin that does not exist.

use serde_json::json;

use super::model::PrivatePlugin;
use super::repo::{self, NewPrivatePlugin};
use super::service::{self, Plugins};
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::Database;
use crate::error::{typed, AppError, AppResult};
use crate::tenancy::model::{Tenant, TenantId};

/// The most private plugins a tenant keeps, and packages one names.
const MAX_ENTRIES: usize = 200;
const MAX_PACKAGES: usize = 10;

/// What an admin enters.
pub struct NewPrivate {
    /// Lower-case letters, digits and dashes; the entry's id is `t<tenant>.<name>`.
    pub name: String,
    pub title: String,
    pub summary: String,
    pub category: String,
    /// npm package names, the main one first.
    pub packages: Vec<String>,
}

/// npm's rules for a package name: lower case, at most 214 characters, an optional
/// `@scope/`, and URL-safe characters only.
fn npm_name(name: &str) -> bool {
    let bare = |part: &str| {
        !part.is_empty()
            && !part.starts_with(['.', '_'])
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
    };
    name.len() <= 214
        && match name.strip_prefix('@').map(|rest| rest.split_once('/')) {
            Some(Some((scope, package))) => bare(scope) && bare(package),
            Some(None) => false,
            None => bare(name),
        }
}

fn entry_id(tenant: TenantId, name: &str) -> String {
    format!("t{}.{name}", tenant.0)
}

impl NewPrivate {
    fn check(&self) -> AppResult<()> {
        let name = typed(&self.name, "A name", 40)?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(AppError::invalid("A name is lower-case letters, digits and dashes, at most 40."));
        }
        if typed(&self.title, "A title", 100)?.is_empty() {
            return Err(AppError::invalid("Give the plugin a title."));
        }
        typed(&self.summary, "A summary", 500)?;
        typed(&self.category, "A category", 60)?;
        if self.packages.is_empty() || self.packages.len() > MAX_PACKAGES {
            return Err(AppError::invalid(format!("Name 1 to {MAX_PACKAGES} npm packages, the main one first.")));
        }
        if let Some(bad) = self.packages.iter().find(|p| !npm_name(p)) {
            return Err(AppError::invalid(format!(
                "`{}` is not an npm package name.",
                typed(bad, "A package name", 214).unwrap_or("that")
            )));
        }
        Ok(())
    }
}

/// The tenant's private entries with the versions the registry publishes for them.
pub fn list(directory: &super::directory::Directory, tenant: TenantId) -> Vec<PrivatePlugin> {
    directory
        .plugins
        .iter()
        .filter(|p| p.owner == Some(tenant.0))
        .map(|p| PrivatePlugin {
            id: p.id.clone(),
            title: p.title.clone(),
            summary: p.summary.clone(),
            packages: p.packages.clone(),
            versions: p.packages.iter().filter_map(|n| directory.packages.get(n)).map(|i| i.versions.len()).sum(),
        })
        .collect()
}

/// Adds a private entry and, when the server reads a registry, its packages' versions now.
pub async fn add(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: AuditSource,
    new: NewPrivate,
) -> AppResult<PrivatePlugin> {
    new.check()?;
    let (name, owner) = (new.name.trim().to_owned(), tenant.id);
    let id = entry_id(owner, &name);
    let packages: Vec<String> = new.packages.iter().map(|p| p.trim().to_owned()).collect();
    let (loading, counting) = (plugins.clone(), plugins.clone());
    let existing = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move { Ok::<_, AppError>(list(&*loading.directory(conn).await?, owner).len()) })
        })
        .await?;
    if existing >= MAX_ENTRIES {
        return Err(AppError::invalid(format!("A tenant keeps at most {MAX_ENTRIES} private plugins.")));
    }
    let (stored_id, stored_packages) = (id.clone(), packages.clone());
    let (title, summary, category) = (new.title.trim().to_owned(), new.summary.trim().to_owned(), new.category);
    db.with_control(move |conn| {
        Box::pin(async move {
            let category = category.trim();
            let entry = NewPrivatePlugin {
                id: &stored_id,
                owner: owner.0,
                title: &title,
                summary: &summary,
                category: (!category.is_empty()).then_some(category),
                packages: &stored_packages,
            };
            if !repo::insert_private_plugin(conn, entry).await? {
                return Err(AppError::conflict(format!("You already have a private plugin `{name}`.")));
            }
            repo::add_packages(conn, &stored_packages).await?;
            repo::bump(conn, None).await.map_err(AppError::from)
        })
    })
    .await?;
    if let Some(artifacts) = &plugins.artifacts {
        let report = service::read_registry(db, &artifacts.policy, &artifacts.registry, &packages).await?;
        tracing::info!(id = %id, versions = report.versions, not_found = report.not_found.len(), "private plugin read from the registry");
    }
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let directory = counting.directory(conn).await?;
            let added = list(&directory, owner)
                .into_iter()
                .find(|p| p.id == id)
                .ok_or_else(|| AppError::internal("the private plugin was not stored"))?;
            let event = AuditEvent::success(AuditAction::PluginPrivateEntryChanged, added.id.clone()).details(
                json!({ "added": { "title": added.title, "packages": added.packages, "versions": added.versions } }),
            );
            record(conn, &source, event).await?;
            Ok(added)
        })
    })
    .await
}

/// Removes a private entry. What runs stays installed until someone uninstalls it.
pub async fn remove(db: &Database, tenant: &Tenant, source: AuditSource, id: &str) -> AppResult<()> {
    let id = typed(id, "A plugin id", 200)?.to_owned();
    let owner = tenant.id;
    let removed = id.clone();
    let found = db
        .with_control(move |conn| {
            Box::pin(async move {
                let found = repo::delete_private_plugin(conn, &removed, owner.0).await?;
                if found {
                    repo::bump(conn, None).await?;
                }
                Ok::<_, AppError>(found)
            })
        })
        .await?;
    if !found {
        return Err(AppError::not_found(format!("No private plugin `{id}`.")));
    }
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let event =
                AuditEvent::success(AuditAction::PluginPrivateEntryChanged, id).details(json!({ "removed": true }));
            record(conn, &source, event).await
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::npm_name;

    #[test]
    fn package_names_follow_npm() {
        for good in ["@acme/backstage-plugin-costs", "left-pad", "@a/b", "x.y_z~1"] {
            assert!(npm_name(good), "{good}");
        }
        for bad in ["", "@acme", "@acme/", "Acme", "@acme/Costs", ".hidden", "_x", "a b", "a/b", &"x".repeat(215)] {
            assert!(!npm_name(bad), "{bad}");
        }
    }
}
