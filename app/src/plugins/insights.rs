//! Read-only views of a tenant's plugin set for people planning a change: the set as a
//! dependency graph (what each package needs, where it comes from, who needs it), whether it
//! runs on another Backstage release and what moving there would take, and its numbers.

use std::collections::BTreeMap;

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use super::directory::fit;
use super::model::{
    ChangeCounts, Compat, CompatibilityReport, Dependency, DependencyGraph, Health, PackageDependencies,
    PackageOnRelease, PluginSetMetrics, Provided,
};
use super::service::{self, diff, release_of, roots_of, solve, tenant_state, Plugins};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

/// `GET /api/plugins/dependencies`: each installed package's dependencies (installed, provided
/// by the platform's release, or left to npm) and the installed packages that need it.
pub async fn dependencies(db: &Database, plugins: &Plugins, tenant: &Tenant) -> AppResult<DependencyGraph> {
    let plugins = plugins.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (directory, platform, set) = tenant_state(conn, &plugins).await?;
            let release = release_of(&directory, &platform)?;
            let installed: BTreeMap<&str, &str> =
                set.iter().map(|p| (p.package.as_str(), p.version.as_str())).collect();
            let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut packages: Vec<PackageDependencies> = set
                .iter()
                .map(|p| {
                    let known = directory.packages.get(&p.package).and_then(|i| i.version(&p.version));
                    let ranges = known
                        .map(|v| {
                            v.known.dependencies.iter().chain(&v.known.peer_dependencies).collect::<BTreeMap<_, _>>()
                        })
                        .unwrap_or_default();
                    let dependencies = ranges
                        .into_iter()
                        .map(|(name, range)| {
                            let (provided, version) = match (installed.get(name.as_str()), release.packages.get(name)) {
                                (Some(v), _) => {
                                    dependents.entry(name.clone()).or_default().push(p.package.clone());
                                    (Provided::Installed, Some((*v).to_owned()))
                                }
                                (None, Some(pinned)) => (Provided::Platform, Some(pinned.clone())),
                                (None, None) => (Provided::External, None),
                            };
                            Dependency { name: name.clone(), range: range.clone(), provided, version }
                        })
                        .collect();
                    PackageDependencies {
                        package: p.package.clone(),
                        version: p.version.clone(),
                        plugin: p.plugin.clone(),
                        role: p.role.clone(),
                        dependencies,
                        dependents: Vec::new(),
                    }
                })
                .collect();
            for package in &mut packages {
                package.dependents = dependents.remove(&package.package).unwrap_or_default();
            }
            Ok(DependencyGraph { revision: platform.current_revision, release: platform.release, packages })
        })
    })
    .await
}

/// `GET /api/plugins/compatibility?release=`: how each installed package fits `to`, and, when
/// some do not, the set the solver would move to there (packages that fit stay as they are, the
/// others go to their newest version that fits, forward or back) or why there is none.
pub async fn compatibility(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    to: &str,
) -> AppResult<CompatibilityReport> {
    let to = crate::error::typed(to, "A release", 64)?.to_owned();
    let plugins = plugins.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (directory, platform, set) = tenant_state(conn, &plugins).await?;
            let target = directory
                .release(&to)
                .ok_or_else(|| AppError::invalid(format!("Backstage {to} is not a release the directory knows.")))?
                .clone();
            let target_fits = directory.fits(&target);
            let mut roots = roots_of(&set);
            let mut packages = Vec::new();
            for p in &set {
                let info = directory.packages.get(&p.package);
                let (compat, problems) =
                    info.and_then(|i| i.version(&p.version)).map_or((Compat::Unknown, Vec::new()), |v| fit(v, &target));
                if compat == Compat::Incompatible {
                    if let (Some(root), Some(newest)) =
                        (roots.get_mut(&p.package), info.and_then(|i| i.newest_on(&target_fits)))
                    {
                        root.1 = Some(newest.known.version.clone());
                    }
                }
                packages.push(PackageOnRelease {
                    package: p.package.clone(),
                    version: p.version.clone(),
                    compat,
                    problems,
                    update: None,
                });
            }
            let fits = packages.iter().all(|p| p.compat != Compat::Incompatible);
            let mut report = CompatibilityReport {
                from: platform.release.clone(),
                to: target.version.clone(),
                fits,
                packages,
                changes: Vec::new(),
                explanation: Vec::new(),
                suggestions: Vec::new(),
            };
            if fits {
                return Ok(report);
            }
            // The solver's work is bounded by its step budget; off the async workers.
            let solving = directory.clone();
            let solved = tokio::task::spawn_blocking(move || {
                solve(&solving, &target, &set, &roots).map(|(next, _)| diff(&set, &next))
            })
            .await
            .map_err(AppError::internal)?;
            match solved {
                Ok(changes) => {
                    for package in &mut report.packages {
                        package.update =
                            changes.iter().find(|c| c.package == package.package).and_then(|c| c.after.clone());
                    }
                    report.changes = changes;
                }
                Err(conflict) => {
                    let refused = service::refused(conflict, Vec::new());
                    report.explanation = refused.explanation;
                    report.suggestions = refused.suggestions;
                }
            }
            Ok(report)
        })
    })
    .await
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    applied: i64,
    #[diesel(sql_type = BigInt)]
    refused: i64,
}

/// `GET /api/plugins/metrics`: the set, its changes over 30 days (from the audit log, so
/// refusals count too), its health and the requests waiting for an admin.
pub async fn metrics(db: &Database, plugins: &Plugins, tenant: &Tenant) -> AppResult<PluginSetMetrics> {
    let overview = service::tenant_plugins(db, plugins, tenant, false, super::requests::Shown::None).await?;
    let (changes, pending) = db
        .with_tenant(tenant, |conn| {
            Box::pin(async move {
                let counts: Counts = diesel::sql_query(
                    "SELECT count(*) FILTER (WHERE outcome = 'success') AS applied, \
                     count(*) FILTER (WHERE outcome = 'failure') AS refused FROM audit_events \
                     WHERE occurred_at > now() - interval '30 days' AND action = 'plugin.changed'",
                )
                .get_result(conn)
                .await?;
                Ok::<_, AppError>((counts, super::repo::pending_requests(conn).await?))
            })
        })
        .await?;
    let loaded: Vec<_> = overview.installed.iter().filter(|r| r.health != Health::Library).collect();
    Ok(PluginSetMetrics {
        revision: overview.platform.current_revision,
        installed: loaded.len(),
        enabled: loaded.iter().filter(|r| !r.package.disabled).count(),
        disabled: loaded.iter().filter(|r| r.package.disabled).count(),
        libraries: overview.installed.len() - loaded.len(),
        // Revisions are only ever appended, and the newest is current.
        revisions: i64::from(overview.platform.current_revision),
        changes_30d: ChangeCounts { applied: changes.applied, refused: changes.refused },
        updates_available: overview.installed.iter().filter(|r| r.update.is_some()).count(),
        runtimes: overview.runtimes.len(),
        failed: loaded.iter().filter(|r| matches!(r.health, Health::Failed { .. })).count(),
        drift: loaded.iter().filter(|r| matches!(r.health, Health::Drift { .. })).count(),
        pending_requests: pending,
    })
}
