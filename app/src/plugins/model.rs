//! What the plugins area shows and exchanges: directory entries with their compatibility
//! against the tenant's Backstage release, the tenant's plugin set and its revisions, and the
//! outcome of a change (a new revision, or a conflict explained).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a package version fits a Backstage release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compat {
    /// Every host package it needs is the version the release pins.
    Compatible,
    /// No dependency data, but it was built for this release line.
    Declared,
    /// A host package (core-, frontend- or backend-plugin-api) does not match.
    Incompatible,
    /// Nothing known either way (no dependencies or target release published).
    Unknown,
}

impl Compat {
    pub fn label(self) -> &'static str {
        match self {
            Compat::Compatible => "compatible",
            Compat::Declared => "built for this release",
            Compat::Incompatible => "incompatible",
            Compat::Unknown => "unknown",
        }
    }

    /// Whether it may be installed without a conflict.
    pub fn installable(self) -> bool {
        matches!(self, Compat::Compatible | Compat::Declared)
    }
}

/// backstage.io's directory rule: inactive when the newest publish is older than 365 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Staleness {
    Active,
    Inactive,
    /// No publish date known.
    Unknown,
}

/// Where a package's configuration schema comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchemaAvailability {
    /// A JSON schema Beacon validates configuration against.
    Available,
    /// Only a `config.d.ts`: configuration is checked as YAML only.
    Unavailable,
    /// The package declares no configuration.
    None,
}

/// The runtime a tenant points at Beacon and the Backstage release it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `backstage` or `rhdh`.
    pub runtime: String,
    pub release: String,
    pub current_revision: i32,
    /// Which directory plugins the tenant's admins allow to be installed.
    #[serde(default)]
    pub policy: Policy,
}

/// A tenant's restriction of the directory: plugins outside it are hidden from browsing and
/// cannot be installed (installed ones stay, and may be updated, until someone removes them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Support levels that may be installed (`supported`, `tech-preview`, `dev-preview`,
    /// `community`); empty: any.
    pub support: Vec<String>,
    /// Plugin ids that may not be installed.
    pub blocked: Vec<String>,
    /// Only plugins published in the last 365 days (backstage.io's "active").
    pub active_only: bool,
}

impl Policy {
    /// The policy in words, for the audit log and the settings page.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.support.is_empty() {
            parts.push(format!("only {} plugins", self.support.join(", ")));
        }
        if self.active_only {
            parts.push("only plugins published in the last year".to_owned());
        }
        if !self.blocked.is_empty() {
            parts.push(format!("none of {}", self.blocked.join(", ")));
        }
        if parts.is_empty() {
            "every plugin in the directory".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// One plugin in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginCard {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub categories: Vec<String>,
    pub author: Option<String>,
    /// `supported`, `tech-preview`, `dev-preview` or `community`.
    pub support: String,
    pub roles: Vec<String>,
    /// The newest version of its main package, and when it was published.
    pub latest: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub staleness: Staleness,
    /// The newest version of its main package on the tenant's release.
    pub compat: Compat,
    /// The installed version of its main package, if any.
    pub installed: Option<String>,
    pub update_available: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    pub value: String,
    pub count: usize,
}

/// What the browse page can narrow by, with the number of plugins each value would show.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    pub category: Vec<FacetValue>,
    pub role: Vec<FacetValue>,
    pub support: Vec<FacetValue>,
    pub compat: Vec<FacetValue>,
    pub state: Vec<FacetValue>,
    pub collection: Vec<FacetValue>,
}

/// Narrowing of the browse page; empty (or absent) fields do not narrow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrowseQuery {
    pub search: String,
    pub category: String,
    pub role: String,
    pub support: String,
    /// `compatible` keeps plugins installable on the tenant's release.
    pub compat: String,
    /// `installed` or `update-available`.
    pub state: String,
    pub collection: String,
}

impl BrowseQuery {
    /// The query string (page URLs and `GET /api/plugins`): each field and its key.
    pub fn from_params(get: impl Fn(&str) -> String) -> Self {
        BrowseQuery {
            search: get("q"),
            category: get("category"),
            role: get("role"),
            support: get("support"),
            compat: get("compat"),
            state: get("state"),
            collection: get("collection"),
        }
    }

    /// Each field with its query-string key, in the order of `from_params`.
    pub fn pairs(&self) -> [(&'static str, &str); 7] {
        [
            ("q", &self.search),
            ("category", &self.category),
            ("role", &self.role),
            ("support", &self.support),
            ("compat", &self.compat),
            ("state", &self.state),
            ("collection", &self.collection),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Browse {
    pub items: Vec<PluginCard>,
    /// Plugins in the directory the tenant's policy allows, before narrowing.
    pub total: usize,
    /// Plugins the tenant's policy hides.
    pub hidden: usize,
    pub facets: Facets,
    pub platform: Platform,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub title: String,
    pub url: String,
}

/// One version of a package with its fit on the releases the page compares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: String,
    pub published: Option<DateTime<Utc>>,
    pub deprecated: bool,
    /// On the tenant's release, with the reasons when it does not fit.
    pub compat: Compat,
    pub problems: Vec<String>,
    /// On each of `PluginDetail::releases`, in that order.
    pub across: Vec<Compat>,
    pub dependencies: Vec<(String, String)>,
    pub schema: SchemaAvailability,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackageDetail {
    pub name: String,
    pub role: Option<String>,
    pub latest: Option<String>,
    /// Newest first.
    pub versions: Vec<VersionRow>,
    /// An example `pluginConfig`, as YAML.
    pub config_example: Option<String>,
    pub installed: Option<InstalledPackage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginDetail {
    pub card: PluginCard,
    /// The documentation, rendered from Markdown with raw HTML escaped.
    pub docs_html: String,
    pub highlights: Vec<String>,
    pub tags: Vec<String>,
    pub links: Vec<Link>,
    pub packages: Vec<PackageDetail>,
    /// The releases the version tables compare, newest first.
    pub releases: Vec<String>,
    pub platform: Platform,
    pub may_manage: bool,
    /// Maintainers may ask an admin for a change (`requests`).
    pub may_request: bool,
    /// Why the tenant's policy does not allow installing it, if it does not.
    pub outside_policy: Option<String>,
}

/// One package of a tenant's plugin set, as a revision stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstalledPackage {
    pub package: String,
    pub version: String,
    /// The directory plugin it was installed for (`None` for a library pulled in by another).
    pub plugin: Option<String>,
    pub role: Option<String>,
    pub disabled: bool,
    /// The `pluginConfig` fragment given to the runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionSummary {
    pub number: i32,
    pub created_at: DateTime<Utc>,
    pub author: String,
    pub operation: String,
    pub reason: String,
    pub release: String,
    pub restores: Option<i32>,
    pub packages: usize,
}

/// How one package differs between two revisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChange {
    pub package: String,
    /// Version before and after (`None`: absent on that side).
    pub before: Option<String>,
    pub after: Option<String>,
    /// What else changed: "enabled", "disabled", "configuration".
    pub notes: Vec<String>,
}

/// A row of the installed list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstalledRow {
    pub package: InstalledPackage,
    pub compat: Compat,
    /// The newest version installable on the release, when newer than the installed one.
    pub update: Option<String>,
    /// Its configuration as YAML, for the editor (empty: none).
    pub config_yaml: String,
    /// Its tarball was fetched, matched its published integrity and passed the archive checks
    /// (the tenant's npm endpoint serves it).
    pub verified: bool,
    /// What the tenant's runtimes report about it, against the current revision.
    pub health: Health,
    /// Each runtime's last word on it.
    pub reports: Vec<RuntimeReport>,
}

/// Settings → Plugins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantPlugins {
    pub platform: Platform,
    /// Every release the directory knows, newest first (the platform form's choices).
    pub releases: Vec<String>,
    pub installed: Vec<InstalledRow>,
    /// Newest first.
    pub history: Vec<RevisionSummary>,
    /// Sentences about the current set on the platform (non-host `@backstage/*` mismatches).
    pub warnings: Vec<String>,
    /// The runtimes that reported in the last day.
    pub runtimes: Vec<RuntimeSummary>,
    /// Packages a runtime runs that the current revision does not hold.
    pub unexpected: Vec<String>,
    /// Changes maintainers asked for, pending first.
    pub requests: Vec<ChangeRequest>,
    /// The tenant's own directory entries.
    pub private: Vec<PrivatePlugin>,
    pub may_manage: bool,
}

/// Whether a runtime loaded a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadState {
    Loaded,
    Failed,
}

/// One package in a runtime's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadedPackage {
    pub package: String,
    pub version: String,
    pub state: LoadState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a runtime reports it loaded (`POST /api/plugins/health`): every dynamic plugin package
/// it tried, loaded or failed. `instance` names the runtime when several serve the tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthReport {
    #[serde(default)]
    pub instance: Option<String>,
    pub plugins: Vec<LoadedPackage>,
}

/// One runtime's last word on one package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeReport {
    pub instance: String,
    pub version: String,
    pub state: LoadState,
    pub error: Option<String>,
    pub reported_at: DateTime<Utc>,
}

/// A runtime that reported, and what it said in short.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSummary {
    pub instance: String,
    pub reported_at: DateTime<Utc>,
    pub loaded: usize,
    pub failed: usize,
}

/// A package's health: what the tenant's runtimes report, against the current revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Health {
    /// No runtime reported in the last day.
    Unreported,
    /// A library: runtimes load it as part of the plugins that need it, never on its own.
    Library,
    /// Every runtime runs the revision's version.
    Running,
    /// Disabled, and no runtime runs it.
    Off,
    /// A runtime could not load it.
    Failed { instance: String, error: String },
    /// A runtime runs another version, runs it while it is disabled, or does not run it.
    Drift { instance: String, detail: String },
}

impl Health {
    /// Short, for a badge.
    pub fn label(&self) -> &'static str {
        match self {
            Health::Unreported => "not reported",
            Health::Library => "library",
            Health::Running => "running",
            Health::Off => "off",
            Health::Failed { .. } => "failed",
            Health::Drift { .. } => "drift",
        }
    }
}

/// `GET /api/plugins/health`: the runtimes heard from, and each installed package's health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginHealth {
    pub revision: i32,
    pub runtimes: Vec<RuntimeSummary>,
    pub packages: Vec<InstalledRow>,
    pub unexpected: Vec<String>,
}

/// What a change would do or did: the packages it moves and what to be aware of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub changes: Vec<PackageChange>,
    pub warnings: Vec<String>,
}

/// A version a person can pick to get past a conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    pub package: String,
    pub version: String,
}

/// Why a change cannot be made, in sentences a person can act on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictReport {
    pub explanation: Vec<String>,
    pub suggestions: Vec<String>,
    pub alternatives: Vec<Alternative>,
}

/// The outcome of a change: the new revision, or the conflict that stopped it (nothing changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOutcome {
    Applied { revision: i32, resolution: Resolution },
    Refused(ConflictReport),
}

/// A plugin recommended to the tenant: its catalog's entities carry an annotation the plugin
/// reads, or other organisations install it alongside a plugin the tenant has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub plugin: PluginCard,
    /// The annotation, for a recommendation from the catalog.
    pub annotation: Option<String>,
    /// Entities carrying the annotation, and how many of them are components.
    pub entities: i64,
    pub components: i64,
    /// The installed plugin it goes with, for a recommendation from co-installs, and how many
    /// other organisations (at least five) have both.
    pub alongside: Option<String>,
    pub tenants: i64,
    /// "38 of your 120 components carry `argocd/app-name`; Argo CD is not installed."
    pub reason: String,
}

/// A change a maintainer asked for, waiting for an admin (or decided).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRequest {
    pub id: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub requester: String,
    /// The operation as `POST /api/plugins/operations` takes one.
    pub operation: serde_json::Value,
    /// What it asks for in words ("Install argocd").
    pub summary: String,
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub decider: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// The revision its approval made.
    pub revision: Option<i32>,
}

/// Where a dependency of an installed package comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provided {
    /// Another package of the plugin set.
    Installed,
    /// A `@backstage/*` package the release pins: the runtime has it.
    Platform,
    /// Neither: npm installs it from the registry with the package.
    External,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    pub range: String,
    pub provided: Provided,
    /// The installed or pinned version, when known.
    pub version: Option<String>,
}

/// One installed package in the dependency view: what it needs and who needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageDependencies {
    pub package: String,
    pub version: String,
    pub plugin: Option<String>,
    pub role: Option<String>,
    pub dependencies: Vec<Dependency>,
    /// Installed packages that depend on it.
    pub dependents: Vec<String>,
}

/// `GET /api/plugins/dependencies`: the current set as a graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyGraph {
    pub revision: i32,
    pub release: String,
    pub packages: Vec<PackageDependencies>,
}

/// One installed package on another release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageOnRelease {
    pub package: String,
    pub version: String,
    pub compat: Compat,
    pub problems: Vec<String>,
    /// The version the move to the release would install, when it differs.
    pub update: Option<String>,
}

/// `GET /api/plugins/compatibility?release=`: whether the tenant's plugin set runs on another
/// Backstage release, and what it would take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatibilityReport {
    pub from: String,
    pub to: String,
    /// Every installed package fits the release as it is.
    pub fits: bool,
    pub packages: Vec<PackageOnRelease>,
    /// What moving to the release would change (updates the solver found), when it can.
    pub changes: Vec<PackageChange>,
    /// Why the set cannot move to the release, when it cannot.
    pub explanation: Vec<String>,
    pub suggestions: Vec<String>,
}

/// Changes made and refused in a window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    pub applied: i64,
    pub refused: i64,
}

/// `GET /api/plugins/metrics`: the tenant's plugin set in numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginSetMetrics {
    pub revision: i32,
    /// Packages runtimes load, enabled or not, and the libraries they need.
    pub installed: usize,
    pub enabled: usize,
    pub disabled: usize,
    pub libraries: usize,
    pub revisions: i64,
    pub changes_30d: ChangeCounts,
    pub updates_available: usize,
    /// Runtimes heard from in the last day, and packages they failed to load or run otherwise.
    pub runtimes: usize,
    pub failed: usize,
    pub drift: usize,
    pub pending_requests: i64,
}

/// One of a tenant's own directory entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivatePlugin {
    /// `t<tenant>.<name>`: its address is `/plugins/<id>`.
    pub id: String,
    pub title: String,
    pub summary: String,
    pub packages: Vec<String>,
    /// Versions the registry publishes across its packages (0: not read from a registry yet).
    pub versions: usize,
}
