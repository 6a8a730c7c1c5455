//! The plugins area's rules: the directory as each tenant sees it (compatibility with its
//! Backstage release, what it has installed), and changes to a tenant's plugin set. Every change
//! is solved against the release, then written as a new immutable revision, all packages or
//! none, under a lock on the tenant's platform row: two admins changing the set at once are
//! applied one after the other, each on top of the other's result.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, RwLock};

use chrono::Utc;
use serde_json::json;

use super::artifacts;
use super::config;
use super::directory::{fit, is_loadable_role, Directory, PackageInfo, ReleaseFits};
use super::docs;
use super::health::Reports;
use super::metrics::PluginMetrics;
use super::model::{
    Alternative, Browse, BrowseQuery, ChangeOutcome, Compat, ConflictReport, FacetValue, Facets, InstalledPackage,
    InstalledRow, PackageChange, PackageDetail, Platform, PluginCard, PluginDetail, PluginHealth, Resolution,
    TenantPlugins, VersionRow,
};
use super::registry;
use super::repo::{self, NewRevision};
use super::requests;
use super::seed;
use super::solver::{self, Release, Requirement};
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::{Principal, Role};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::events::bus::{self, Event};
use crate::fetch::FetchPolicy;
use crate::notifications::model::NotificationKind;
use crate::notifications::repo as notifications_repo;
use crate::notifications::service::{notify, Notice};
use crate::tenancy::{
    self,
    model::{Tenant, TenantId},
};

/// The releases a plugin page's compatibility table compares: the newest of each of the last
/// few release lines.
const COMPARED_LINES: usize = 8;
/// Revisions listed on the settings page.
const HISTORY: i64 = 50;
/// The longest reason or search accepted.
const MAX_TEXT: usize = 500;

/// The directory cache every server keeps (one per process, shared by all tenants).
#[derive(Clone, Default)]
pub struct Plugins {
    directory: Arc<RwLock<Option<Arc<Directory>>>>,
    pub metrics: PluginMetrics,
    /// Where package tarballs are fetched from and verified before a revision holds them;
    /// without a registry (`BEACON_NPM_REGISTRY`) revisions carry the published integrity
    /// unverified, and the tenant npm endpoint has nothing to serve.
    pub artifacts: Option<ArtifactSource>,
}

/// The npm registry artifacts come from, and the network policy for reaching it.
#[derive(Clone, Debug)]
pub struct ArtifactSource {
    pub registry: String,
    pub policy: FetchPolicy,
}

impl Plugins {
    /// A server's plugin area; `artifacts` when it verifies tarballs from a registry.
    pub fn new(artifacts: Option<ArtifactSource>) -> Self {
        Plugins { artifacts, ..Plugins::default() }
    }

    /// The directory at its current version, loaded again only when it moved.
    pub async fn directory(&self, conn: &mut Connection) -> AppResult<Arc<Directory>> {
        let (version, _) = repo::directory_version(conn).await?;
        if let Some(cached) = self.directory.read().expect("directory lock").as_ref() {
            if cached.version == version {
                return Ok(cached.clone());
            }
        }
        let loaded = Arc::new(repo::load_directory(conn, version).await?);
        *self.directory.write().expect("directory lock") = Some(loaded.clone());
        Ok(loaded)
    }
}

/// Loads the bundled directory when this build's copy has not been loaded yet.
pub async fn seed_bundled(db: &Database) -> AppResult<bool> {
    let digest = seed::digest(seed::BUNDLED);
    db.with_control(move |conn| {
        Box::pin(async move {
            let (_, loaded) = repo::directory_version(conn).await?;
            if loaded.as_deref() == Some(digest.as_str()) {
                return Ok(false);
            }
            // Parsed only when this build's directory is not the one loaded (start-up).
            let doc = seed::parse(seed::BUNDLED).map_err(AppError::internal)?;
            repo::load_seed(conn, &doc, &digest).await?;
            Ok(true)
        })
    })
    .await
}

/// What a registry refresh did.
#[derive(Debug, Default, serde::Serialize)]
pub struct RefreshReport {
    pub packages: usize,
    pub versions: usize,
    pub not_found: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Tenants whose admins were told of updates that fit their release.
    pub tenants_told: usize,
}

/// Reads every directory package (or those named) from the npm registry and stores what it
/// publishes. Packages a plugin's manifest names as its own (`backstage.pluginPackages`, e.g. a
/// `-common` library) join the directory and are read too. A package that cannot be read or
/// stored is recorded with why and the others go on; servers reload the directory once, at
/// the end.
pub async fn refresh(
    db: &Database,
    policy: &FetchPolicy,
    registry_url: &str,
    only: &[String],
) -> AppResult<RefreshReport> {
    let mut report = read_registry(db, policy, registry_url, only).await?;
    report.tenants_told = announce_updates(db, &Plugins::default()).await?;
    Ok(report)
}

/// The reading half of [`refresh`], without telling tenants of updates (a tenant's private
/// packages, read as they are added, are news to nobody).
pub async fn read_registry(
    db: &Database,
    policy: &FetchPolicy,
    registry_url: &str,
    only: &[String],
) -> AppResult<RefreshReport> {
    let names = db
        .with_control(|conn| Box::pin(async move { repo::package_names(conn).await.map_err(AppError::from) }))
        .await?;
    let mut queue: Vec<String> =
        if only.is_empty() { names } else { names.into_iter().filter(|n| only.contains(n)).collect() };
    let mut seen: HashSet<String> = queue.iter().cloned().collect();
    let mut report = RefreshReport::default();
    while let Some(name) = queue.pop() {
        let packument = match registry::fetch_packument(policy, registry_url, &name).await {
            Ok(Some(packument)) => packument,
            Ok(None) => {
                note_failure(db, &name, "npm-not-found").await?;
                report.not_found.push(name);
                continue;
            }
            Err(error) => {
                note_failure(db, &name, &error).await?;
                report.failed.push((name, error));
                continue;
            }
        };
        let own = packument.plugin_packages();
        let (stored, joined) = (name.clone(), own.clone());
        let saved = db
            .with_control(move |conn| {
                Box::pin(async move {
                    repo::add_sibling_packages(conn, &joined, &stored).await?;
                    repo::store_packument(conn, &stored, &packument).await.map_err(AppError::from)?;
                    Ok::<_, AppError>(packument.versions.len())
                })
            })
            .await;
        match saved {
            Ok(versions) => {
                report.packages += 1;
                report.versions += versions;
                queue.extend(own.into_iter().filter(|n| seen.insert(n.clone())));
            }
            Err(error) => {
                let error = format!("not stored: {error}");
                note_failure(db, &name, &error).await?;
                report.failed.push((name, error));
            }
        }
    }
    db.with_control(|conn| Box::pin(async move { repo::bump(conn, None).await.map_err(AppError::from) })).await?;
    Ok(report)
}

async fn note_failure(db: &Database, name: &str, error: &str) -> AppResult<()> {
    let (name, error) = (name.to_owned(), error.replace('\0', ""));
    db.with_control(move |conn| {
        Box::pin(async move { repo::refresh_failed(conn, &name, &error).await.map_err(AppError::from) })
    })
    .await
}

/// The tenant's platform, or the default (Backstage, newest release) before it chose one.
pub(super) async fn platform(conn: &mut Connection, directory: &Directory) -> AppResult<Platform> {
    match repo::platform(conn).await? {
        Some(p) => Ok(p),
        None => Ok(default_platform(directory)),
    }
}

pub(super) fn default_platform(directory: &Directory) -> Platform {
    let release = directory.newest_release().map(|r| r.version.clone()).unwrap_or_default();
    Platform { runtime: "backstage".to_owned(), release, current_revision: 0, policy: Default::default() }
}

pub(super) fn release_of<'d>(directory: &'d Directory, platform: &Platform) -> AppResult<&'d Release> {
    directory.release(&platform.release).ok_or_else(|| {
        AppError::invalid(format!("Backstage {} is not a release the directory knows.", platform.release))
    })
}

pub(super) async fn current_set(conn: &mut Connection, platform: &Platform) -> AppResult<Vec<InstalledPackage>> {
    Ok(repo::revision_packages(conn, platform.current_revision).await?.unwrap_or_default())
}

/// What every read of the tenant's plugins starts from: the directory, the tenant's platform
/// and its current set.
pub(super) async fn tenant_state(
    conn: &mut Connection,
    plugins: &Plugins,
) -> AppResult<(Arc<Directory>, Platform, Vec<InstalledPackage>)> {
    let directory = plugins.directory(conn).await?;
    let platform = platform(conn, &directory).await?;
    let installed = current_set(conn, &platform).await?;
    Ok((directory, platform, installed))
}

fn typed<'a>(text: &'a str, what: &str) -> AppResult<&'a str> {
    crate::error::typed(text, what, MAX_TEXT)
}

pub(super) fn card(
    directory: &Directory,
    plugin: &super::directory::PluginInfo,
    fits: &ReleaseFits,
    installed: &[InstalledPackage],
) -> PluginCard {
    let main = directory.main_package(plugin);
    let latest = main.and_then(PackageInfo::latest);
    let installed_version =
        main.and_then(|m| installed.iter().find(|i| i.package == m.name)).map(|i| i.version.clone());
    let update_available = match (&installed_version, main.and_then(|m| m.newest_on(fits))) {
        (Some(current), Some(newest)) => {
            nodejs_semver::Version::parse(current).map(|c| newest.parsed > c).unwrap_or(false)
        }
        _ => false,
    };
    let roles: Vec<String> = plugin
        .packages
        .iter()
        .filter_map(|n| directory.packages.get(n)?.role.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    PluginCard {
        id: plugin.id.clone(),
        title: plugin.title.clone(),
        summary: plugin.summary.clone(),
        categories: plugin.categories.clone(),
        author: plugin.author.clone(),
        support: plugin.support.clone(),
        roles,
        latest: latest.map(|v| v.known.version.clone()),
        published: main.and_then(PackageInfo::newest_publish),
        staleness: directory.staleness(plugin, Utc::now()),
        compat: directory.plugin_fit(plugin, fits),
        installed: installed_version,
        update_available,
    }
}

/// The values each facet narrows by, for one card.
fn facet_values(card: &PluginCard, collections: &[String]) -> [Vec<String>; 6] {
    let compat = if card.compat.installable() { "compatible" } else { "not compatible" };
    let mut state = Vec::new();
    if card.installed.is_some() {
        state.push("installed".to_owned());
    }
    if card.update_available {
        state.push("update-available".to_owned());
    }
    [
        card.categories.clone(),
        card.roles.clone(),
        vec![card.support.clone()],
        vec![compat.to_owned()],
        state,
        collections.to_vec(),
    ]
}

/// The browse page: plugins narrowed by search and facets, each facet counted with every other
/// narrowing applied (so a count says what choosing it would show).
pub async fn browse(db: &Database, plugins: &Plugins, tenant: &Tenant, query: BrowseQuery) -> AppResult<Browse> {
    let search = typed(&query.search, "A search")?.to_lowercase();
    let (plugins, tenant_id) = (plugins.clone(), tenant.id);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (directory, platform, installed) = tenant_state(conn, &plugins).await?;
            let release = release_of(&directory, &platform)?;
            let fits = directory.fits(release);
            let chosen = [&query.category, &query.role, &query.support, &query.compat, &query.state, &query.collection];
            let terms: Vec<&str> = search.split_whitespace().collect();
            let mut counts: [BTreeMap<String, usize>; 6] = Default::default();
            let mut items = Vec::new();
            let (mut seen, mut hidden) = (0, 0);
            for plugin in directory.plugins.iter().filter(|p| p.visible_to(tenant_id)) {
                seen += 1;
                if platform.policy.refusal(&directory, plugin).is_some() {
                    hidden += 1;
                    continue;
                }
                if !terms.iter().all(|t| plugin.haystack.contains(t)) {
                    continue;
                }
                let card = card(&directory, plugin, &fits, &installed);
                let values = facet_values(&card, &plugin.collections);
                let matches: Vec<bool> =
                    (0..6).map(|f| chosen[f].is_empty() || values[f].iter().any(|v| v == chosen[f])).collect();
                for f in 0..6 {
                    if (0..6).all(|g| g == f || matches[g]) {
                        for v in &values[f] {
                            *counts[f].entry(v.clone()).or_default() += 1;
                        }
                    }
                }
                if matches.iter().all(|m| *m) {
                    items.push(card);
                }
            }
            let facet = |c: &BTreeMap<String, usize>| {
                let mut v: Vec<FacetValue> =
                    c.iter().map(|(value, count)| FacetValue { value: value.clone(), count: *count }).collect();
                v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                v
            };
            let facets = Facets {
                category: facet(&counts[0]),
                role: facet(&counts[1]),
                support: facet(&counts[2]),
                compat: facet(&counts[3]),
                state: facet(&counts[4]),
                collection: facet(&counts[5]),
            };
            // Matches in the title first, then supported before community.
            let rank = |c: &PluginCard| {
                let in_title = terms.iter().all(|t| c.title.to_lowercase().contains(t));
                let support = ["supported", "tech-preview", "dev-preview"].iter().position(|s| *s == c.support);
                (!in_title, support.unwrap_or(3))
            };
            items.sort_by_key(rank);
            Ok(Browse { items, total: seen - hidden, hidden, facets, platform })
        })
    })
    .await
}

/// The newest release of each of the last `COMPARED_LINES` release lines, newest first.
fn compared_releases(directory: &Directory, platform: &Platform) -> Vec<Release> {
    let mut lines: Vec<Release> = Vec::new();
    for release in directory.releases.iter().rev() {
        let line = |v: &str| v.rsplit_once('.').map(|(l, _)| l.to_owned()).unwrap_or_default();
        if lines.iter().all(|r| line(&r.version) != line(&release.version)) {
            lines.push(release.clone());
        }
        if lines.len() == COMPARED_LINES {
            break;
        }
    }
    if let Some(own) = directory.release(&platform.release) {
        if !lines.iter().any(|r| r.version == own.version) {
            lines.push(own.clone());
            lines.sort_by(|a, b| {
                nodejs_semver::Version::parse(&b.version).ok().cmp(&nodejs_semver::Version::parse(&a.version).ok())
            });
        }
    }
    lines
}

/// A plugin's page: documentation, packages, every version's fit on the tenant's release and
/// on recent releases, dependencies and the configuration example.
pub async fn plugin(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    id: &str,
    may_manage: bool,
    may_request: bool,
) -> AppResult<PluginDetail> {
    let id = typed(id, "A plugin id")?.to_owned();
    let (plugins, tenant_id) = (plugins.clone(), tenant.id);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (directory, platform, installed) = tenant_state(conn, &plugins).await?;
            let plugin = directory
                .plugin(&id)
                .filter(|p| p.visible_to(tenant_id))
                .ok_or_else(|| AppError::not_found(format!("No plugin `{id}`.")))?;
            let release = release_of(&directory, &platform)?;
            let compared = compared_releases(&directory, &platform);
            let packages = plugin
                .packages
                .iter()
                .filter_map(|n| directory.packages.get(n))
                .map(|p| PackageDetail {
                    name: p.name.clone(),
                    role: p.role.clone(),
                    latest: p.latest().map(|v| v.known.version.clone()),
                    versions: p
                        .versions
                        .iter()
                        .rev()
                        .map(|v| {
                            let (compat, problems) = fit(v, release);
                            VersionRow {
                                version: v.known.version.clone(),
                                published: v.published_at,
                                deprecated: v.known.deprecated,
                                compat,
                                problems,
                                across: compared.iter().map(|r| fit(v, r).0).collect(),
                                dependencies: v
                                    .known
                                    .dependencies
                                    .iter()
                                    .chain(&v.known.peer_dependencies)
                                    .map(|(k, r)| (k.clone(), r.clone()))
                                    .collect(),
                                schema: v.schema,
                            }
                        })
                        .collect(),
                    config_example: p.config_example.as_ref().and_then(|c| serde_norway::to_string(c).ok()),
                    installed: installed.iter().find(|i| i.package == p.name).cloned(),
                })
                .collect();
            Ok(PluginDetail {
                outside_policy: platform.policy.refusal(&directory, plugin),
                card: card(&directory, plugin, &directory.fits(release), &installed),
                docs_html: docs::render(&plugin.docs),
                highlights: plugin.highlights.clone(),
                tags: plugin.tags.clone(),
                links: plugin.links.clone(),
                packages,
                releases: compared.into_iter().map(|r| r.version).collect(),
                platform,
                may_manage,
                may_request: may_request && !may_manage,
            })
        })
    })
    .await
}

/// Settings → Plugins: the platform, the installed set with updates, and the history.
pub async fn tenant_plugins(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    may_manage: bool,
    shown: requests::Shown,
) -> AppResult<TenantPlugins> {
    let (plugins, tenant_id) = (plugins.clone(), tenant.id);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (directory, platform, set) = tenant_state(conn, &plugins).await?;
            let release = release_of(&directory, &platform)?;
            let fits = directory.fits(release);
            let reports = Reports::load(conn).await?;
            let unexpected = reports.unexpected(&set, platform.current_revision);
            let integrities: Vec<String> = set.iter().filter_map(|p| p.integrity.clone()).collect();
            let verified = repo::stored_artifacts(conn, &integrities).await?;
            let mut warnings = Vec::new();
            let installed = set
                .into_iter()
                .map(|package| {
                    let info = directory.packages.get(&package.package);
                    let (compat, notes) = info
                        .and_then(|p| p.version(&package.version))
                        .map_or((Compat::Unknown, Vec::new()), |v| fit(v, release));
                    warnings.extend(notes.into_iter().map(|n| format!("{} {}: {n}", package.package, package.version)));
                    InstalledRow {
                        compat,
                        update: update_of(info, &fits, &package.version),
                        config_yaml: package.config.as_ref().map(config::to_yaml).unwrap_or_default(),
                        verified: package.integrity.as_ref().is_some_and(|i| verified.contains(i)),
                        health: reports.health(&package, is_loaded(&package)),
                        reports: reports.of(&package.package),
                        package,
                    }
                })
                .collect();
            Ok(TenantPlugins {
                releases: directory.releases.iter().rev().map(|r| r.version.clone()).collect(),
                history: repo::history(conn, HISTORY).await?,
                platform,
                installed,
                warnings,
                runtimes: reports.runtimes,
                unexpected,
                requests: requests::shown_in(conn, shown).await?,
                private: super::private::list(&directory, tenant_id),
                may_manage,
            })
        })
    })
    .await
}

/// The newest version of a package that fits the release, when newer than `installed`.
fn update_of(info: Option<&PackageInfo>, fits: &ReleaseFits, installed: &str) -> Option<String> {
    let newest = info?.newest_on(fits)?;
    let current = nodejs_semver::Version::parse(installed).ok()?;
    (newest.parsed > current).then(|| newest.known.version.clone())
}

/// Tells each tenant's admins of updates to their installed plugins that fit their release,
/// once per package and version (after a registry refresh). Returns the tenants told.
pub async fn announce_updates(db: &Database, plugins: &Plugins) -> AppResult<usize> {
    let mut told = 0;
    for tenant in tenancy::service::list(db).await? {
        let plugins = plugins.clone();
        let announced: AppResult<bool> = db
            .with_tenant(&tenant, move |conn| {
                Box::pin(async move {
                    let (directory, platform, set) = tenant_state(conn, &plugins).await?;
                    if set.is_empty() {
                        return Ok(false);
                    }
                    // Servers refreshing at once tell each admin once: the second waits here
                    // and then finds the versions noted.
                    repo::lock_platform(conn, &platform).await?;
                    let release = release_of(&directory, &platform)?;
                    let fits = directory.fits(release);
                    let noticed = repo::update_notices(conn).await?;
                    let fresh: BTreeMap<String, (String, String)> = set
                        .iter()
                        .filter(|p| p.plugin.is_some() && is_loaded(p))
                        .filter_map(|p| {
                            let newest = update_of(directory.packages.get(&p.package), &fits, &p.version)?;
                            (noticed.get(&p.package) != Some(&newest))
                                .then(|| (p.package.clone(), (p.version.clone(), newest)))
                        })
                        .collect();
                    if fresh.is_empty() {
                        return Ok(false);
                    }
                    let versions = fresh.iter().map(|(p, (_, newest))| (p.clone(), newest.clone())).collect();
                    repo::note_updates(conn, &versions).await?;
                    let notice = Notice {
                        kind: NotificationKind::PluginUpdate,
                        title: match fresh.len() {
                            1 => format!("An update fits Backstage {}", platform.release),
                            n => format!("{n} updates fit Backstage {}", platform.release),
                        },
                        body: fresh
                            .iter()
                            .map(|(package, (installed, newest))| format!("{package} {installed} → {newest}"))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        link: Some("/settings/plugins".to_owned()),
                    };
                    for admin in notifications_repo::members_with_role(conn, Role::Admin).await? {
                        notify(conn, admin, notice.clone()).await?;
                    }
                    Ok(true)
                })
            })
            .await;
        match announced {
            Ok(true) => told += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(tenant = %tenant.slug, %error, "plugin updates not announced"),
        }
    }
    Ok(told)
}

/// Records which runtime and Backstage release the tenant runs. Installed plugins that no
/// longer fit show as incompatible; nothing is removed.
pub async fn set_platform(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: AuditSource,
    runtime: &str,
    release: &str,
) -> AppResult<()> {
    if !matches!(runtime, "backstage" | "rhdh") {
        return Err(AppError::invalid("The runtime is `backstage` or `rhdh`."));
    }
    let (runtime, release) = (runtime.to_owned(), typed(release, "A release")?.to_owned());
    let plugins = plugins.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let directory = plugins.directory(conn).await?;
            if directory.release(&release).is_none() {
                return Err(AppError::invalid(format!("Backstage {release} is not a release the directory knows.")));
            }
            let before = repo::lock_platform(conn, &default_platform(&directory)).await?;
            repo::set_platform(conn, &runtime, &release).await?;
            let event = AuditEvent::success(AuditAction::PluginPlatformChanged, format!("{runtime} {release}"))
                .details(json!({ "before": { "runtime": before.runtime, "release": before.release },
                                 "after": { "runtime": runtime, "release": release } }));
            record(conn, &source, event).await
        })
    })
    .await
}

/// A change asked for: what, why, and whether only to say what it would do.
pub struct Change {
    pub operation: Operation,
    /// Shown in the history; empty: a default that says what was done.
    pub reason: String,
    pub dry_run: bool,
    /// The maintainer's request this change approves: it must still be pending, and is marked
    /// approved with the revision in the same transaction.
    pub request: Option<uuid::Uuid>,
}

/// A change to the plugin set.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(tag = "operation", rename_all = "kebab-case")]
pub enum Operation {
    /// Install a plugin (every package a runtime loads), or some of its packages at chosen
    /// versions (`package → npm range`; empty: each at its newest fitting version).
    Install {
        plugin: String,
        #[serde(default)]
        versions: BTreeMap<String, String>,
    },
    /// Move the named installed packages (all of them when empty) to their newest fitting
    /// versions: "update all compatible" is one revision.
    Update {
        #[serde(default)]
        packages: Vec<String>,
    },
    Uninstall {
        plugin: String,
    },
    /// Enable or disable every installed package of a plugin.
    Toggle {
        plugin: String,
        disabled: bool,
    },
    /// A new revision equal to an earlier one.
    Rollback {
        revision: i32,
    },
    /// Sets (or with `None` clears) one installed package's `pluginConfig`.
    Configure {
        package: String,
        config: Option<serde_json::Value>,
    },
    /// Several operations, each on the result of the one before, as one revision: all of them
    /// or none (`POST /api/plugins/operations`). Rollbacks and nested bulks are not taken.
    Bulk {
        operations: Vec<Operation>,
    },
}

/// The most operations one bulk change holds.
const MAX_BULK: usize = 50;

impl Operation {
    /// Refuses text no name or range can hold (NUL bytes, absurd lengths) before any work, and
    /// puts a configuration in the one shape a revision stores (a mapping of at most 64 KiB of
    /// YAML, or none), however it came (YAML text or JSON, alone or inside a bulk change).
    pub fn check(&mut self) -> AppResult<()> {
        match self {
            Operation::Install { plugin, versions } => {
                typed(plugin, "A plugin id")?;
                for (package, range) in versions {
                    typed(package, "A package name")?;
                    typed(range, "A version range")?;
                }
            }
            Operation::Update { packages } => {
                for package in packages {
                    typed(package, "A package name")?;
                }
            }
            Operation::Uninstall { plugin } | Operation::Toggle { plugin, .. } => {
                typed(plugin, "A plugin id")?;
            }
            Operation::Rollback { revision } if *revision < 0 => {
                return Err(AppError::not_found(format!("No revision {revision}.")));
            }
            Operation::Rollback { .. } => {}
            Operation::Configure { package, config } => {
                typed(package, "A package name")?;
                if let Some(value) = config.take() {
                    let text = match value {
                        serde_json::Value::String(yaml) => yaml,
                        other => serde_json::to_string(&other).map_err(AppError::internal)?,
                    };
                    *config = config::parse_yaml(&text)?;
                }
            }
            Operation::Bulk { operations } => {
                if operations.is_empty() || operations.len() > MAX_BULK {
                    return Err(AppError::invalid(format!("A bulk change holds 1 to {MAX_BULK} operations.")));
                }
                for operation in operations.iter_mut() {
                    if matches!(operation, Operation::Bulk { .. } | Operation::Rollback { .. }) {
                        return Err(AppError::invalid("A bulk change holds no rollback and no other bulk change."));
                    }
                    operation.check()?;
                }
            }
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        match self {
            Operation::Install { .. } => "install",
            Operation::Update { .. } => "update",
            Operation::Uninstall { .. } => "uninstall",
            Operation::Toggle { .. } => "toggle",
            Operation::Rollback { .. } => "rollback",
            Operation::Configure { .. } => "configure",
            Operation::Bulk { .. } => "bulk",
        }
    }

    /// The plugins it installs (those of a bulk change's installs included).
    pub fn installs(&self) -> Vec<&str> {
        match self {
            Operation::Install { plugin, .. } => vec![plugin.as_str()],
            Operation::Bulk { operations } => operations.iter().flat_map(Operation::installs).collect(),
            _ => Vec::new(),
        }
    }

    /// The operation as audited: a configuration by the keys it sets, never their values
    /// (they may be secrets, and the audit log cannot be taken back).
    pub fn audited(&self) -> serde_json::Value {
        match self {
            Operation::Configure { package, config } => json!({
                "operation": "configure",
                "package": package,
                "keys": config.as_ref().map(config::key_paths).unwrap_or_default(),
            }),
            Operation::Bulk { operations } => json!({
                "operation": "bulk",
                "operations": operations.iter().map(Operation::audited).collect::<Vec<_>>(),
            }),
            other => serde_json::to_value(other).unwrap_or_default(),
        }
    }

    /// The audit event of this operation refused for `report`'s reasons.
    fn refused(&self, report: &ConflictReport) -> AuditEvent {
        AuditEvent::failure(AuditAction::PluginsChanged, operation_target(self))
            .details(json!({ "operation": self.audited(), "explanation": report.explanation }))
    }

    /// The live event a revision made by this operation announces.
    fn event_kind(&self) -> &'static str {
        let [installed, updated, uninstalled, toggled, rolled_back] = bus::PLUGIN_CHANGE_KINDS;
        match self {
            Operation::Install { .. } => installed,
            Operation::Update { .. } | Operation::Configure { .. } | Operation::Bulk { .. } => updated,
            Operation::Uninstall { .. } => uninstalled,
            Operation::Toggle { .. } => toggled,
            Operation::Rollback { .. } => rolled_back,
        }
    }

    /// The plugin its metrics count it under: the plugin for changes of one plugin, `*` for
    /// updates and rollbacks (which may move many).
    fn counted_as(&self) -> String {
        match self {
            Operation::Install { plugin, .. } | Operation::Uninstall { plugin } | Operation::Toggle { plugin, .. } => {
                plugin.clone()
            }
            Operation::Update { .. }
            | Operation::Rollback { .. }
            | Operation::Configure { .. }
            | Operation::Bulk { .. } => "*".to_owned(),
        }
    }
}

/// Installed packages by name.
fn by_name(set: &[InstalledPackage]) -> BTreeMap<String, &InstalledPackage> {
    set.iter().map(|p| (p.package.clone(), p)).collect()
}

/// How `after` differs from `before`, package by package.
pub fn diff(before: &[InstalledPackage], after: &[InstalledPackage]) -> Vec<PackageChange> {
    let (b, a) = (by_name(before), by_name(after));
    let names: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (old, new) = (b.get(name), a.get(name));
            let mut notes = Vec::new();
            if let (Some(o), Some(n)) = (old, new) {
                if o.disabled != n.disabled {
                    notes.push(if n.disabled { "disabled" } else { "enabled" }.to_owned());
                }
                if o.config != n.config {
                    notes.push("configuration".to_owned());
                }
                if o.version == n.version && notes.is_empty() {
                    return None;
                }
            }
            Some(PackageChange {
                package: name.clone(),
                before: old.map(|p| p.version.clone()),
                after: new.map(|p| p.version.clone()),
                notes,
            })
        })
        .collect()
}

/// A plugin set and the warnings that come with it.
type Solved = (Vec<InstalledPackage>, Vec<String>);

/// A package installed for a plugin: which plugin, and the range this change asks for
/// (`None`: it stays as it is, keeping its version where it can).
pub(super) type Roots = BTreeMap<String, (Option<String>, Option<String>)>;

/// The managed packages `roots` need, transitively, at the versions `versions` gives them.
fn needed_by(directory: &Directory, roots: &Roots, versions: &BTreeMap<String, String>) -> HashSet<String> {
    let mut needed: HashSet<String> = roots.keys().cloned().collect();
    let mut queue: Vec<String> = needed.iter().cloned().collect();
    while let Some(name) = queue.pop() {
        let Some(version) = versions.get(&name) else { continue };
        let Some(info) = directory.packages.get(&name).and_then(|p| p.version(version)) else { continue };
        for dep in info.known.dependencies.keys().chain(info.known.peer_dependencies.keys()) {
            if versions.contains_key(dep) && needed.insert(dep.clone()) {
                queue.push(dep.clone());
            }
        }
    }
    needed
}

/// Solves the change on the release and builds the resulting set: what stays keeps its
/// version where it can (the solver says when one must move), the libraries the roots need
/// come with them and those nothing needs any more go, settings (enabled, configuration) of
/// packages that stay are kept. Packages of a plugin being removed, and libraries only they
/// needed, are not held: an uninstall works even when what it removes no longer fits.
pub(super) fn solve(
    directory: &Directory,
    release: &Release,
    current: &[InstalledPackage],
    roots: &Roots,
) -> Result<Solved, solver::Conflict> {
    let installed: BTreeMap<String, String> = current.iter().map(|p| (p.package.clone(), p.version.clone())).collect();
    let kept = needed_by(directory, roots, &installed);
    let pinned: BTreeMap<String, String> = installed.into_iter().filter(|(name, _)| kept.contains(name)).collect();
    let requested: Vec<Requirement> = roots
        .iter()
        .filter_map(|(package, (_, range))| Some(Requirement { package: package.clone(), range: range.clone()? }))
        .collect();
    let known = directory.known_on(release);
    let solution = solver::resolve(&known, release, &directory.releases, &pinned, &requested)?;
    let needed = needed_by(directory, roots, &solution.packages);
    let old = by_name(current);
    let set = solution
        .packages
        .iter()
        .filter(|(name, _)| needed.contains(*name))
        .map(|(name, version)| {
            let info = directory.packages.get(name);
            let previous = old.get(name);
            InstalledPackage {
                package: name.clone(),
                version: version.clone(),
                plugin: roots.get(name).and_then(|(plugin, _)| plugin.clone()),
                role: info.and_then(|p| p.role.clone()),
                disabled: previous.is_some_and(|p| p.disabled),
                config: previous.and_then(|p| p.config.clone()),
                integrity: info.and_then(|p| p.version(version)).and_then(|v| v.integrity.clone()),
            }
        })
        .collect();
    Ok((set, solution.warnings))
}

/// The packages installed for a plugin (not pulled in as dependencies), staying as they are.
pub(super) fn roots_of(set: &[InstalledPackage]) -> Roots {
    set.iter().filter(|p| p.plugin.is_some()).map(|p| (p.package.clone(), (p.plugin.clone(), None))).collect()
}

/// For each package a refused change asked for, the newest version that fits the release.
fn alternatives(directory: &Directory, release: &Release, packages: impl Iterator<Item = String>) -> Vec<Alternative> {
    packages
        .filter_map(|name| {
            let newest = directory.packages.get(&name)?.newest_on(&directory.fits(release))?;
            Some(Alternative { package: name, version: newest.known.version.clone() })
        })
        .collect()
}

pub(super) fn refused(conflict: solver::Conflict, alternatives: Vec<Alternative>) -> ConflictReport {
    ConflictReport { explanation: conflict.explanation, suggestions: conflict.suggestions, alternatives }
}

/// The set an operation asks for, or why it cannot be made.
fn next_set(
    directory: &Directory,
    tenant: TenantId,
    release: &Release,
    current: &[InstalledPackage],
    operation: &Operation,
    earlier: Option<Vec<InstalledPackage>>,
) -> AppResult<Result<Solved, ConflictReport>> {
    let mut roots = roots_of(current);
    let fits = directory.fits(release);
    match operation {
        Operation::Install { plugin, versions } => {
            // Another tenant's private plugin does not exist here, exactly as an unknown id.
            let info = directory
                .plugin(plugin)
                .filter(|p| p.visible_to(tenant))
                .ok_or_else(|| AppError::not_found(format!("No plugin `{plugin}`.")))?;
            let packages: Vec<&PackageInfo> = if versions.is_empty() {
                directory.loadable_packages(info).collect()
            } else {
                for name in versions.keys() {
                    if !info.packages.contains(name) {
                        return Err(AppError::invalid(format!("{name} is not a package of {}.", info.title)));
                    }
                }
                versions.keys().filter_map(|n| directory.packages.get(n)).collect()
            };
            if packages.is_empty() {
                return Err(AppError::invalid(format!("{} has no package a runtime can load.", info.title)));
            }
            for package in &packages {
                let range = versions.get(&package.name).cloned().unwrap_or_else(|| {
                    // Newest fitting version first; without one the solver explains why.
                    package.newest_on(&fits).map_or_else(|| "*".to_owned(), |v| v.known.version.clone())
                });
                roots.insert(package.name.clone(), (Some(plugin.clone()), Some(range)));
            }
            let asked: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
            Ok(solve(directory, release, current, &roots)
                .map_err(|c| refused(c, alternatives(directory, release, asked.into_iter()))))
        }
        Operation::Update { packages } => {
            let targets: Vec<String> = if packages.is_empty() {
                roots.keys().cloned().collect()
            } else {
                for name in packages {
                    if !roots.contains_key(name) {
                        return Err(AppError::invalid(format!("{name} is not installed.")));
                    }
                }
                packages.clone()
            };
            let installed = by_name(current);
            for name in &targets {
                let newest = directory.packages.get(name).and_then(|p| p.newest_on(&fits));
                let version = installed.get(name).and_then(|p| nodejs_semver::Version::parse(&p.version).ok());
                // Only ever forward: a package newer than the newest fitting one stays.
                if let (Some(newest), Some(version), Some(root)) = (newest, version, roots.get_mut(name)) {
                    if newest.parsed > version {
                        root.1 = Some(newest.known.version.clone());
                    }
                }
            }
            Ok(solve(directory, release, current, &roots)
                .map_err(|c| refused(c, alternatives(directory, release, targets.into_iter()))))
        }
        Operation::Uninstall { plugin } => {
            let before = roots.len();
            roots.retain(|_, (owner, _)| owner.as_deref() != Some(plugin.as_str()));
            if roots.len() == before {
                return Err(AppError::invalid(format!("`{plugin}` is not installed.")));
            }
            Ok(solve(directory, release, current, &roots).map_err(|c| refused(c, Vec::new())))
        }
        Operation::Toggle { plugin, disabled } => {
            if !current.iter().any(|p| p.plugin.as_deref() == Some(plugin.as_str())) {
                return Err(AppError::invalid(format!("`{plugin}` is not installed.")));
            }
            let set = current
                .iter()
                .cloned()
                .map(|mut p| {
                    if p.plugin.as_deref() == Some(plugin.as_str()) {
                        p.disabled = *disabled;
                    }
                    p
                })
                .collect();
            Ok(Ok((set, Vec::new())))
        }
        Operation::Configure { package, config } => {
            let mut set = current.to_vec();
            let installed = set
                .iter_mut()
                .find(|p| &p.package == package)
                .ok_or_else(|| AppError::invalid(format!("{package} is not installed.")))?;
            installed.config = config.clone();
            Ok(Ok((set, Vec::new())))
        }
        Operation::Bulk { operations } => {
            let (mut set, mut warnings) = (current.to_vec(), Vec::new());
            for (step, operation) in operations.iter().enumerate() {
                let which = format!("Step {} ({}):", step + 1, default_reason(operation).to_lowercase());
                match next_set(directory, tenant, release, &set, operation, None).map_err(|e| e.prefixed(&which))? {
                    Ok((next, more)) => {
                        set = next;
                        warnings.extend(more);
                    }
                    Err(mut report) => {
                        report.explanation.insert(0, which);
                        return Ok(Err(report));
                    }
                }
            }
            let mut seen = HashSet::new();
            warnings.retain(|w| seen.insert(w.clone()));
            Ok(Ok((set, warnings)))
        }
        Operation::Rollback { revision } => {
            let earlier = earlier.ok_or_else(|| AppError::not_found(format!("No revision {revision}.")))?;
            // The earlier set exactly, checked against today's release.
            let exact: Roots =
                earlier.iter().map(|p| (p.package.clone(), (p.plugin.clone(), Some(p.version.clone())))).collect();
            match solve(directory, release, &earlier, &exact) {
                Ok((_, warnings)) => Ok(Ok((earlier, warnings))),
                Err(conflict) => Ok(Err(refused(conflict, Vec::new()))),
            }
        }
    }
}

/// Makes a change (or with `dry_run` only says what it would do): solved on the tenant's
/// release, refused with its explanation when it cannot be satisfied, otherwise written as the
/// next revision. When the server fetches artifacts, every package the change brings in must
/// first pass its integrity and archive checks (`artifacts`), fetched before the platform row is
/// locked. Both outcomes are audited (dry runs are not: they change nothing).
pub async fn change(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    change: Change,
) -> AppResult<ChangeOutcome> {
    let Change { mut operation, reason, dry_run, request } = change;
    let reason = typed(&reason, "A reason")?.to_owned();
    operation.check()?;
    let started = std::time::Instant::now();
    let (name, counted) = (operation.name(), operation.counted_as());
    let solve = |operation: Operation, dry_run: bool| {
        solve_change(db, plugins, tenant, &source, me, operation, reason.clone(), dry_run, request)
    };
    let outcome = match (&plugins.artifacts, dry_run) {
        (Some(artifacts), false) => match solve(operation.clone(), true).await? {
            ChangeOutcome::Applied { resolution, .. } => {
                match fetch_artifacts(db, plugins, tenant, artifacts, &resolution.changes).await? {
                    Ok(()) => solve(operation, false).await?,
                    Err(report) => {
                        let event = operation.refused(&report);
                        let source = source.clone();
                        db.with_tenant(tenant, move |conn| Box::pin(async move { record(conn, &source, event).await }))
                            .await?;
                        ChangeOutcome::Refused(report)
                    }
                }
            }
            // Refused as it stands: made for real, the refusal is audited.
            ChangeOutcome::Refused(_) => solve(operation, false).await?,
        },
        _ => solve(operation, dry_run).await?,
    };
    if !dry_run {
        let applied = matches!(outcome, ChangeOutcome::Applied { .. });
        plugins.metrics.observe(name, &counted, applied, started.elapsed().as_secs_f64());
    }
    Ok(outcome)
}

/// Fetches, verifies and stores the tarball of every version `changes` bring in that is not
/// stored yet. `Ok(Err(report))` names each that failed; nothing is stored for those.
async fn fetch_artifacts(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: &ArtifactSource,
    changes: &[PackageChange],
) -> AppResult<Result<(), ConflictReport>> {
    let loading = plugins.clone();
    let directory = db.with_tenant(tenant, move |conn| Box::pin(async move { loading.directory(conn).await })).await?;
    let wanted: Vec<(String, String, Option<String>)> = changes
        .iter()
        // Only versions the set does not hold yet: enabling, disabling or configuring moves none.
        .filter(|change| change.before != change.after)
        .filter_map(|change| {
            let version = change.after.clone()?;
            let integrity = directory
                .packages
                .get(&change.package)
                .and_then(|p| p.version(&version))
                .and_then(|v| v.integrity.clone());
            Some((change.package.clone(), version, integrity))
        })
        .collect();
    let known: Vec<String> = wanted.iter().filter_map(|(_, _, i)| i.clone()).collect();
    let stored = db
        .with_control(move |conn| {
            Box::pin(async move { repo::stored_artifacts(conn, &known).await.map_err(AppError::from) })
        })
        .await?;
    let mut explanation = Vec::new();
    for (package, version, integrity) in wanted {
        let Some(integrity) = integrity else {
            explanation.push(format!(
                "{package} {version} has no published integrity, so its tarball cannot be verified: refresh the directory from the registry."
            ));
            continue;
        };
        if stored.contains(&integrity) {
            continue;
        }
        match artifacts::fetch_checked(&source.policy, &source.registry, &package, &version, &integrity).await {
            Ok((bytes, files)) => {
                db.with_control(move |conn| {
                    Box::pin(async move {
                        repo::store_artifact(conn, &integrity, &package, &version, &bytes, files)
                            .await
                            .map_err(AppError::from)
                    })
                })
                .await?;
            }
            Err(why) => explanation.push(format!("{package} {version} was refused: {why}.")),
        }
    }
    if explanation.is_empty() {
        return Ok(Ok(()));
    }
    Ok(Err(ConflictReport {
        explanation,
        suggestions: vec![
            "Nothing was changed. Check the registry's copy of these packages, or choose another version.".into(),
        ],
        alternatives: Vec::new(),
    }))
}

/// The packages whose version `changes` moves and whose tarball is not stored, as "name version".
async fn unverified(
    conn: &mut Connection,
    set: &[InstalledPackage],
    changes: &[PackageChange],
) -> AppResult<Vec<String>> {
    let moved: Vec<&InstalledPackage> =
        set.iter().filter(|p| changes.iter().any(|c| c.package == p.package && c.before != c.after)).collect();
    let integrities: Vec<String> = moved.iter().filter_map(|p| p.integrity.clone()).collect();
    let stored = repo::stored_artifacts(conn, &integrities).await?;
    Ok(moved
        .into_iter()
        .filter(|p| p.integrity.as_ref().is_none_or(|i| !stored.contains(i)))
        .map(|p| format!("{} {}", p.package, p.version))
        .collect())
}

/// Solves a change and, unless `dry_run`, writes it as the next revision under the platform lock.
#[allow(clippy::too_many_arguments)]
async fn solve_change(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: &AuditSource,
    me: &Principal,
    operation: Operation,
    reason: String,
    dry_run: bool,
    request: Option<uuid::Uuid>,
) -> AppResult<ChangeOutcome> {
    let (plugins, me, source, tenant_id) = (plugins.clone(), me.clone(), source.clone(), tenant.id);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let directory = plugins.directory(conn).await?;
            // A dry run reads; a change holds the platform row until it commits.
            let platform = if dry_run {
                platform(conn, &directory).await?
            } else {
                repo::lock_platform(conn, &default_platform(&directory)).await?
            };
            let release = release_of(&directory, &platform)?.clone();
            if let Some(id) = request {
                requests::still_pending(conn, id).await?;
            }
            let current = current_set(conn, &platform).await?;
            let earlier = match &operation {
                Operation::Rollback { revision } => repo::revision_packages(conn, *revision).await?,
                _ => None,
            };
            // What the change would bring in: its installs, or the plugins a rollback restores.
            let mut added = operation.installs();
            if let Some(earlier) = &earlier {
                let running: HashSet<&str> = current.iter().filter_map(|p| p.plugin.as_deref()).collect();
                added.extend(earlier.iter().filter_map(|p| p.plugin.as_deref()).filter(|p| !running.contains(p)));
            }
            if let Some(report) = platform.policy.refuses(&directory, tenant_id, &added) {
                if !dry_run {
                    record(conn, &source, operation.refused(&report)).await?;
                }
                return Ok(ChangeOutcome::Refused(report));
            }
            let target = operation_target(&operation);
            // Solving is CPU work with no await (bounded by the solver's step budget): off the
            // async workers, so other requests are not held up behind it.
            let (solving, inputs) = (directory.clone(), (current.clone(), operation.clone()));
            let next = tokio::task::spawn_blocking(move || {
                let (current, operation) = inputs;
                next_set(&solving, tenant_id, &release, &current, &operation, earlier)
            })
            .await
            .map_err(AppError::internal)??;
            match next {
                Err(report) => {
                    if !dry_run {
                        let event = operation.refused(&report);
                        record(conn, &source, event).await?;
                    }
                    Ok(ChangeOutcome::Refused(report))
                }
                Ok((set, mut warnings)) => {
                    match config::check_set(conn, &directory, &current, &set).await? {
                        Ok(notes) => warnings.extend(notes),
                        Err(report) => {
                            if !dry_run {
                                let event = operation.refused(&report);
                                record(conn, &source, event).await?;
                            }
                            return Ok(ChangeOutcome::Refused(report));
                        }
                    }
                    let changes = diff(&current, &set);
                    if changes.is_empty() {
                        return Err(AppError::invalid("Nothing to change: the plugin set would stay the same."));
                    }
                    // The tarballs were checked for the set a moment ago; under the lock the set
                    // may have come out otherwise (another change, a directory refresh).
                    if !dry_run && plugins.artifacts.is_some() {
                        let unverified = unverified(conn, &set, &changes).await?;
                        if !unverified.is_empty() {
                            let report = ConflictReport {
                                explanation: vec![format!(
                                    "The plugin set or the directory changed while the tarballs were checked: {} not verified yet.",
                                    unverified.join(", ")
                                )],
                                suggestions: vec!["Nothing was changed. Make the change again.".into()],
                                alternatives: Vec::new(),
                            };
                            let event = operation.refused(&report);
                            record(conn, &source, event).await?;
                            return Ok(ChangeOutcome::Refused(report));
                        }
                    }
                    let resolution = Resolution { changes, warnings };
                    if dry_run {
                        return Ok(ChangeOutcome::Applied { revision: platform.current_revision + 1, resolution });
                    }
                    let number = platform.current_revision + 1;
                    let restores = match operation {
                        Operation::Rollback { revision } => Some(revision),
                        _ => None,
                    };
                    let author = me.name().to_owned();
                    let reason = if reason.is_empty() { default_reason(&operation) } else { reason };
                    repo::insert_revision(
                        conn,
                        NewRevision {
                            number,
                            author_id: Some(me.user_id),
                            author: &author,
                            operation: operation.name(),
                            reason: &reason,
                            platform: &platform,
                            restores,
                            packages: &set,
                        },
                    )
                    .await?;
                    repo::note_installed_plugins(conn, tenant_id.0, &set).await?;
                    if let Some(id) = request {
                        requests::approved(conn, &source, &me, id, number).await?;
                    }
                    let event = AuditEvent::success(AuditAction::PluginsChanged, target).details(json!({
                        "revision": number, "operation": operation.audited(), "changes": resolution.changes, "reason": reason,
                    }));
                    record(conn, &source, event).await?;
                    let announced = Event::PluginChanged {
                        kind: operation.event_kind(),
                        revision: number,
                        target: operation_target(&operation),
                        changes: resolution.changes.len(),
                        author,
                    };
                    bus::publish(conn, announced).await?;
                    Ok(ChangeOutcome::Applied { revision: number, resolution })
                }
            }
        })
    })
    .await
}

fn operation_target(operation: &Operation) -> String {
    match operation {
        Operation::Install { plugin, .. } | Operation::Uninstall { plugin } | Operation::Toggle { plugin, .. } => {
            plugin.clone()
        }
        Operation::Update { packages } if packages.is_empty() => "all plugins".to_owned(),
        Operation::Update { packages } => packages.join(", "),
        Operation::Rollback { revision } => format!("revision {revision}"),
        Operation::Configure { package, .. } => package.clone(),
        Operation::Bulk { operations } => operations.iter().map(operation_target).collect::<Vec<_>>().join(", "),
    }
}

/// What an operation does, in words (the history's default reason, a request's summary).
pub fn default_reason(operation: &Operation) -> String {
    match operation {
        Operation::Install { plugin, .. } => format!("Install {plugin}"),
        Operation::Update { packages } if packages.is_empty() => "Update all compatible plugins".to_owned(),
        Operation::Update { packages } => format!("Update {}", packages.join(", ")),
        Operation::Uninstall { plugin } => format!("Uninstall {plugin}"),
        Operation::Toggle { plugin, disabled: true } => format!("Disable {plugin}"),
        Operation::Toggle { plugin, disabled: false } => format!("Enable {plugin}"),
        Operation::Rollback { revision } => format!("Roll back to revision {revision}"),
        Operation::Configure { package, config: Some(_) } => format!("Configure {package}"),
        Operation::Configure { package, config: None } => format!("Clear the configuration of {package}"),
        Operation::Bulk { operations } => operations.iter().map(default_reason).collect::<Vec<_>>().join("; "),
    }
}

/// Whether runtimes load the package themselves (it is in `dynamic-plugins.yaml`): a plugin's
/// frontend or backend, not a library it needs.
pub(super) fn is_loaded(package: &InstalledPackage) -> bool {
    match package.role.as_deref() {
        Some(role) => is_loadable_role(role),
        None => package.plugin.is_some(),
    }
}

/// `GET /api/plugins/config`: the current revision and each of its packages' configuration.
pub async fn configs(db: &Database, tenant: &Tenant) -> AppResult<(i32, BTreeMap<String, serde_json::Value>)> {
    let (revision, set) = db
        .with_tenant(tenant, |conn| Box::pin(async move { repo::current_packages(conn).await.map_err(AppError::from) }))
        .await?;
    Ok((revision, set.into_iter().map(|p| (p.package, p.config.unwrap_or(serde_json::Value::Null))).collect()))
}

/// `GET /api/plugins/health`: the runtimes heard from and each installed package's health.
pub async fn health(db: &Database, plugins: &Plugins, tenant: &Tenant) -> AppResult<PluginHealth> {
    let overview = tenant_plugins(db, plugins, tenant, false, requests::Shown::None).await?;
    Ok(PluginHealth {
        revision: overview.platform.current_revision,
        runtimes: overview.runtimes,
        packages: overview.installed,
        unexpected: overview.unexpected,
    })
}

/// How revision `to` differs from revision `from`.
pub async fn compare(db: &Database, tenant: &Tenant, from: i32, to: i32) -> AppResult<Vec<PackageChange>> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let before = repo::revision_packages(conn, from).await?;
            let after = repo::revision_packages(conn, to).await?;
            match (before, after) {
                (Some(b), Some(a)) => Ok(diff(&b, &a)),
                _ => Err(AppError::not_found("No such revision.")),
            }
        })
    })
    .await
}

/// The runtime's `dynamic-plugins.yaml` (RHDH's format) for the current revision, and its
/// ETag. Only packages a runtime loads are listed; their libraries come with them.
pub async fn dynamic_plugins(db: &Database, tenant: &Tenant) -> AppResult<(String, String)> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { Ok(render_dynamic_plugins(&repo::current_packages(conn).await?.1)) })
    })
    .await
}

/// The YAML and its ETag (a digest of the bytes: the same set gives the same file). A package
/// whose role is unknown is listed when it was installed for a plugin, not when it came as a
/// dependency.
pub fn render_dynamic_plugins(set: &[InstalledPackage]) -> (String, String) {
    use sha2::Digest;
    let entries: Vec<serde_json::Value> = set
        .iter()
        .filter(|p| is_loaded(p))
        .map(|p| {
            let mut entry = serde_json::Map::new();
            entry.insert("package".into(), json!(format!("{}@{}", p.package, p.version)));
            if let Some(integrity) = &p.integrity {
                entry.insert("integrity".into(), json!(integrity));
            }
            entry.insert("disabled".into(), json!(p.disabled));
            if let Some(config) = &p.config {
                entry.insert("pluginConfig".into(), config.clone());
            }
            serde_json::Value::Object(entry)
        })
        .collect();
    let yaml = serde_norway::to_string(&json!({ "plugins": entries })).unwrap_or_default();
    let digest = sha2::Sha256::digest(yaml.as_bytes());
    let etag = format!("\"{}\"", crate::audit::chain::hex(&digest[..16]));
    (yaml, etag)
}
