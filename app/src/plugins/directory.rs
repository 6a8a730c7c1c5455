//! The plugin directory in memory: every plugin, package, known version and Backstage release,
//! loaded once per directory version (a few thousand rows) so that browsing, facets, search and
//! compatibility tables are computed without a query each.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use nodejs_semver::Version;
use serde_json::Value;

use super::model::{Compat, Link, SchemaAvailability, Staleness};
use super::solver::{self, Known, KnownVersion, Release};
use crate::tenancy::model::TenantId;

/// backstage.io's rule: a plugin whose newest publish is older than this is inactive.
const STALE_AFTER_DAYS: i64 = 365;

/// One published version of a package.
#[derive(Clone, Debug)]
pub struct VersionInfo {
    pub known: KnownVersion,
    pub parsed: Version,
    pub published_at: Option<DateTime<Utc>>,
    pub backstage: Option<Value>,
    pub schema: SchemaAvailability,
    pub config_schema: Option<Value>,
    /// The release line a build was made for (Red Hat's exports say so instead of dependencies).
    pub supported_backstage: Option<String>,
    pub integrity: Option<String>,
    pub tarball: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PackageInfo {
    pub name: String,
    pub role: Option<String>,
    /// The registry's `latest` tag (not necessarily the highest version).
    pub latest: Option<String>,
    pub config_example: Option<Value>,
    /// Oldest first.
    pub versions: Vec<VersionInfo>,
}

impl PackageInfo {
    pub fn version(&self, version: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|v| v.known.version == version)
    }

    /// The `latest` tag when it names a known version, else the highest stable one.
    pub fn latest(&self) -> Option<&VersionInfo> {
        self.latest
            .as_deref()
            .and_then(|l| self.version(l))
            .or_else(|| self.versions.iter().rev().find(|v| !v.parsed.is_prerelease()))
            .or_else(|| self.versions.last())
    }

    /// The newest stable, not deprecated version that installs on the release `fits` is of.
    pub fn newest_on(&self, fits: &ReleaseFits) -> Option<&VersionInfo> {
        let compat = fits.get(&self.name)?;
        self.versions
            .iter()
            .zip(compat)
            .rev()
            .filter(|(v, _)| !v.parsed.is_prerelease() && !v.known.deprecated)
            .find(|(_, c)| c.installable())
            .map(|(v, _)| v)
    }

    /// How `version` (one of this package's) fits the release `fits` is of.
    pub fn fit_of(&self, version: &VersionInfo, fits: &ReleaseFits) -> Compat {
        let index = self.versions.iter().position(|v| v.known.version == version.known.version);
        index.and_then(|i| fits.get(&self.name)?.get(i).copied()).unwrap_or(Compat::Unknown)
    }

    pub fn newest_publish(&self) -> Option<DateTime<Utc>> {
        self.versions.iter().filter_map(|v| v.published_at).max()
    }
}

#[derive(Clone, Debug)]
pub struct PluginInfo {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub docs: String,
    pub categories: Vec<String>,
    pub highlights: Vec<String>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub support: String,
    pub links: Vec<Link>,
    /// Its npm packages, the main one first.
    pub packages: Vec<String>,
    pub collections: Vec<String>,
    /// Lower-cased title, summary, id, packages, categories, tags and author: what search reads.
    pub haystack: String,
    /// The tenant whose private entry this is (`None`: the public directory).
    pub owner: Option<i64>,
}

impl PluginInfo {
    /// Whether `tenant` sees it: every public entry, and its own private ones.
    pub fn visible_to(&self, tenant: TenantId) -> bool {
        self.owner.is_none_or(|owner| owner == tenant.0)
    }
}

/// Each version's fit on one release, by package, in the order of `PackageInfo::versions`.
pub type ReleaseFits = HashMap<String, Vec<Compat>>;

pub struct Directory {
    pub version: i64,
    /// Ordered by title.
    pub plugins: Vec<PluginInfo>,
    pub packages: HashMap<String, PackageInfo>,
    /// Oldest first.
    pub releases: Vec<Release>,
    /// Fits computed so far, by release: a release's are computed once per directory version
    /// (every version of every package: the work behind a browse, a card and a solve).
    fits: Mutex<HashMap<String, Arc<ReleaseFits>>>,
    /// The solver's view on each release asked for so far (see `known_on`).
    known_on: Mutex<HashMap<String, Arc<Known>>>,
}

/// How `version` fits `release`, with the reasons when it does not.
pub fn fit(version: &VersionInfo, release: &Release) -> (Compat, Vec<String>) {
    let names_host = |deps: &BTreeMap<String, String>| deps.keys().any(|d| d.starts_with("@backstage/"));
    if names_host(&version.known.dependencies) || names_host(&version.known.peer_dependencies) {
        let check = solver::compatibility(&version.known, release);
        return if check.compatible {
            (Compat::Compatible, check.warnings)
        } else {
            (Compat::Incompatible, check.problems)
        };
    }
    match version.supported_backstage.as_deref() {
        Some(target) if same_line(target, &release.version) => (Compat::Declared, Vec::new()),
        Some(target) => (
            Compat::Unknown,
            vec![format!("built for Backstage {target}; untested on {} (no dependency data)", release.version)],
        ),
        None => (Compat::Unknown, Vec::new()),
    }
}

/// Same major and minor: the release line a build targets.
fn same_line(a: &str, b: &str) -> bool {
    let line = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    line(a) == line(b)
}

impl Directory {
    pub fn new(version: i64, plugins: Vec<PluginInfo>, packages: Vec<PackageInfo>, releases: Vec<Release>) -> Self {
        let packages = packages.into_iter().map(|p| (p.name.clone(), p)).collect();
        Directory { version, plugins, packages, releases, fits: Mutex::default(), known_on: Mutex::default() }
    }

    pub fn plugin(&self, id: &str) -> Option<&PluginInfo> {
        self.plugins.iter().find(|p| p.id == id)
    }

    pub fn release(&self, version: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.version == version)
    }

    pub fn newest_release(&self) -> Option<&Release> {
        self.releases.last()
    }

    /// The package a plugin's card describes: its first plugin (frontend or backend) package.
    pub fn main_package(&self, plugin: &PluginInfo) -> Option<&PackageInfo> {
        let loadable = |p: &&PackageInfo| p.role.as_deref().is_some_and(|r| r.ends_with("-plugin"));
        let packages: Vec<&PackageInfo> = plugin.packages.iter().filter_map(|n| self.packages.get(n)).collect();
        packages.iter().copied().find(loadable).or_else(|| packages.first().copied())
    }

    /// The packages of a plugin a runtime loads (plugins and modules, not libraries).
    pub fn loadable_packages<'a>(&'a self, plugin: &'a PluginInfo) -> impl Iterator<Item = &'a PackageInfo> + 'a {
        plugin
            .packages
            .iter()
            .filter_map(|n| self.packages.get(n))
            .filter(|p| p.role.as_deref().is_none_or(is_loadable_role))
    }

    /// Every version's fit on `release`, computed the first time it is asked for.
    pub fn fits(&self, release: &Release) -> Arc<ReleaseFits> {
        if let Some(fits) = self.fits.lock().unwrap_or_else(|p| p.into_inner()).get(&release.version) {
            return fits.clone();
        }
        let fits: ReleaseFits = self
            .packages
            .values()
            .map(|p| (p.name.clone(), p.versions.iter().map(|v| fit(v, release).0).collect()))
            .collect();
        let fits = Arc::new(fits);
        self.fits.lock().unwrap_or_else(|p| p.into_inner()).insert(release.version.clone(), fits.clone());
        fits
    }

    /// The solver's view of the directory on `release`: where a package has versions known to
    /// fit, versions nothing is known of (no dependency data, built for another release line)
    /// are left out, so a solution never prefers a guess to a version known to work.
    pub fn known_on(&self, release: &Release) -> Arc<Known> {
        if let Some(known) = self.known_on.lock().unwrap_or_else(|p| p.into_inner()).get(&release.version) {
            return known.clone();
        }
        let fits = self.fits(release);
        let known: Known = self
            .packages
            .values()
            .map(|p| {
                let compat = fits.get(&p.name).map(Vec::as_slice).unwrap_or_default();
                let some_fit = compat.iter().any(|c| c.installable());
                let versions = p
                    .versions
                    .iter()
                    .zip(compat)
                    .filter(|(_, c)| !some_fit || **c != Compat::Unknown)
                    .map(|(v, _)| v.known.clone())
                    .collect();
                (p.name.clone(), versions)
            })
            .collect();
        let known = Arc::new(known);
        self.known_on.lock().unwrap_or_else(|p| p.into_inner()).insert(release.version.clone(), known.clone());
        known
    }

    /// The plugin's fit: the newest version that installs, else the latest's fit.
    pub fn plugin_fit(&self, plugin: &PluginInfo, fits: &ReleaseFits) -> Compat {
        let Some(main) = self.main_package(plugin) else { return Compat::Unknown };
        if let Some(v) = main.newest_on(fits) {
            return main.fit_of(v, fits);
        }
        main.latest().map_or(Compat::Unknown, |v| main.fit_of(v, fits))
    }

    pub fn staleness(&self, plugin: &PluginInfo, now: DateTime<Utc>) -> Staleness {
        let newest = plugin.packages.iter().filter_map(|n| self.packages.get(n)?.newest_publish()).max();
        match newest {
            Some(at) if now - at > Duration::days(STALE_AFTER_DAYS) => Staleness::Inactive,
            Some(_) => Staleness::Active,
            None => Staleness::Unknown,
        }
    }
}

/// Roles a runtime loads as plugins; libraries come with them through npm.
pub fn is_loadable_role(role: &str) -> bool {
    matches!(role, "frontend-plugin" | "backend-plugin" | "frontend-plugin-module" | "backend-plugin-module")
}
