//! A tenant's own directory entries: plugins its teams publish to the registry Beacon reads
//! (`BEACON_NPM_REGISTRY`), entered by an admin with their packages. They live in the shared
//! directory tables with the tenant as owner, read from the registry like every package, and
//! are seen, installed, governed and recommended only in that tenant; another tenant gets "not
//! found" for them, as for a plugin that does not exist.

use serde_json::json;

use super::model::PrivatePlugin;
use super::registry::is_package_name;
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
        if let Some(bad) = self.packages.iter().find(|p| !is_package_name(p)) {
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

/// The tenant's private entries, for `GET /api/plugins/private`.
pub async fn of_tenant(db: &Database, plugins: &Plugins, tenant: &Tenant) -> AppResult<Vec<PrivatePlugin>> {
    let (plugins, owner) = (plugins.clone(), tenant.id);
    db.with_tenant(tenant, move |conn| Box::pin(async move { Ok(list(&*plugins.directory(conn).await?, owner)) })).await
}

/// The answer for a package this tenant cannot have: the same whether the registry lacks it
/// or another tenant's entry holds it, so no tenant learns what another one publishes.
fn not_on_registry(package: &str) -> AppError {
    AppError::invalid(format!("`{package}` is not on the registry Beacon reads."))
}

/// Adds a private entry, claims its packages for the tenant and reads their versions from the
/// registry at once. A package the registry does not serve, that another tenant's entry holds,
/// or that is a public directory package refuses the entry, and nothing is kept.
pub async fn add(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: AuditSource,
    new: NewPrivate,
) -> AppResult<PrivatePlugin> {
    new.check()?;
    let Some(registry) = plugins.artifacts.clone() else {
        return Err(AppError::invalid(
            "Private plugins are read from the npm registry this server verifies tarballs from (BEACON_NPM_REGISTRY), and none is set.",
        ));
    };
    let (name, owner) = (new.name.trim().to_owned(), tenant.id);
    let id = entry_id(owner, &name);
    let packages: Vec<String> = new.packages.iter().map(|p| p.trim().to_owned()).collect();
    let (stored_id, stored_packages) = (id.clone(), packages.clone());
    let (title, summary, category) = (new.title.trim().to_owned(), new.summary.trim().to_owned(), new.category);
    db.with_control(move |conn| {
        Box::pin(async move {
            // One tenant's entries are added one after another: the cap holds under races.
            repo::lock_private_entries(conn, owner.0).await?;
            if repo::private_plugin_count(conn, owner.0).await? >= MAX_ENTRIES as i64 {
                return Err(AppError::invalid(format!("A tenant keeps at most {MAX_ENTRIES} private plugins.")));
            }
            for (package, holder) in repo::package_owners(conn, &stored_packages).await? {
                match holder {
                    Some(holder) if holder == owner.0 => {}
                    Some(_) => return Err(not_on_registry(&package)),
                    None => {
                        return Err(AppError::invalid(format!(
                            "`{package}` is in the public directory: install its plugin instead."
                        )))
                    }
                }
            }
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
            repo::add_owned_packages(conn, &stored_packages, owner.0).await?;
            repo::bump(conn, None).await.map_err(AppError::from)
        })
    })
    .await?;
    let report = service::read_registry(db, &registry.policy, &registry.registry, &packages).await?;
    let missing = packages.iter().find(|p| report.not_found.contains(p) || report.failed.iter().any(|(f, _)| f == *p));
    if let Some(missing) = missing {
        let removed = id.clone();
        db.with_control(move |conn| {
            Box::pin(async move {
                repo::delete_private_plugin(conn, &removed, owner.0).await?;
                repo::bump(conn, None).await.map_err(AppError::from)
            })
        })
        .await?;
        return Err(not_on_registry(missing));
    }
    let counting = plugins.clone();
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
