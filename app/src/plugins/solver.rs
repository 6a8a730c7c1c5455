//! Dependency and compatibility solving for the Backstage plugins a tenant installs.
//!
//! A tenant runs one Backstage release and installs plugins published on npm. Two things decide whether a set
//! of plugin versions works:
//! - the plugins' dependencies on each other. These are the *managed* packages (the keys of [`Known`]); they
//!   are solved with PubGrub over the versions the registry actually serves, so an answer only ever names
//!   versions that can be installed, and a failure comes with a proof we can turn into sentences;
//! - the `@backstage/*` packages the host already ships. Only the host singletons ([`HOST_SINGLETONS`]) must
//!   match: the app loads one copy of each and every plugin shares it. Any other `@backstage/*` mismatch is
//!   bundled or deduplicated by the package manager, and strict caret matching of those (`^0.x` pins the
//!   minor) would reject almost every plugin, so such mismatches are warnings.
//!
//! Ranges follow npm's rules (`NpmRange`). Each range becomes the set of *known* versions it matches, built
//! from singletons, so PubGrub never reasons about prerelease ordering and equal sets compare equal.

use std::cell::{Cell, OnceCell};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::ops::Bound;

use nodejs_semver::{Range, Version};
use pubgrub::{
    Dependencies, DependencyProvider, DerivationTree, External, PackageResolutionStatistics, PubGrubError, Ranges,
    SelectedDependencies,
};

/// The packages the host app loads once and shares with every plugin: a plugin built against a version the
/// host does not provide breaks at runtime, so these are hard constraints.
pub const HOST_SINGLETONS: [&str; 3] =
    ["@backstage/core-plugin-api", "@backstage/frontend-plugin-api", "@backstage/backend-plugin-api"];

/// Packages in this scope come with the Backstage release, never from the directory.
const BACKSTAGE_SCOPE: &str = "@backstage/";

/// PubGrub's worst case is exponential. A resolution that takes this many steps is stopped and reported as a
/// conflict instead of holding a worker: installing one plugin into a 450-package tenant takes about a thousand
/// steps, forcing all 450 packages to move about 120 000; 100 000 steps take about 1.5 s in a release build.
const MAX_STEPS: u32 = 100_000;

/// How many sentences a conflict explanation shows: a large tenant's proof can hold hundreds of facts.
const MAX_EXPLANATION: usize = 12;

/// One published version of a package as the registry describes it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct KnownVersion {
    /// Exact semver, may be a prerelease.
    pub version: String,
    /// Package name -> npm range.
    pub dependencies: BTreeMap<String, String>,
    /// Package name -> npm range; solved like regular dependencies because the host must provide them.
    pub peer_dependencies: BTreeMap<String, String>,
    /// Deprecated versions are chosen only when nothing else fits.
    pub deprecated: bool,
}

/// Every version known for each package (the registry may serve only some versions).
pub type Known = BTreeMap<String, Vec<KnownVersion>>;

/// A Backstage release manifest: which version of each @backstage/* package the release pins.
#[derive(Clone, Debug)]
pub struct Release {
    /// The release's own version, e.g. "1.44.0", used in every sentence about the platform.
    pub version: String,
    /// Package name -> the exact version the release ships.
    pub packages: BTreeMap<String, String>,
}

/// What a person asked for: a package and an npm range ("*", "1.14.0", "^2.9").
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Requirement {
    /// The npm package name.
    pub package: String,
    /// An npm range; dist-tags such as `latest` must be resolved by the caller.
    pub range: String,
}

/// A set of versions that works together on the tenant's release.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Solution {
    /// Every managed package of the resulting set -> exact version, as the registry spells it.
    pub packages: BTreeMap<String, String>,
    /// Sentences worth showing before applying the set, e.g. non-singleton `@backstage/*` mismatches.
    pub warnings: Vec<String>,
}

/// Why no set of versions works, in words.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Conflict {
    /// Sentences a person can act on, the blocking facts first.
    pub explanation: Vec<String>,
    /// Other releases or versions that would work.
    pub suggestions: Vec<String>,
}

/// Per-version compatibility with one release (used to draw a table of versions × releases).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Compatibility {
    /// True when every host singleton the version needs is provided by the release.
    pub compatible: bool,
    /// The host singleton requirements the release does not meet.
    pub problems: Vec<String>,
    /// Other `@backstage/*` requirements the release does not meet; these usually still work.
    pub warnings: Vec<String>,
}

/// Solves the managed packages of a tenant after adding `requested` to what is `current`ly installed.
///
/// Installed packages keep their version unless the request forces a change (a warning names each change).
/// `releases` (in the caller's order, e.g. ascending) are only used to suggest an upgrade on conflict.
pub fn resolve(
    known: &Known,
    release: &Release,
    releases: &[Release],
    current: &BTreeMap<String, String>,
    requested: &[Requirement],
) -> Result<Solution, Conflict> {
    resolve_within(MAX_STEPS, known, release, releases, current, requested)
}

/// [`resolve`] with a step budget, so tests can reach the budget without a pathological tenant.
fn resolve_within(
    budget: u32,
    known: &Known,
    release: &Release,
    releases: &[Release],
    current: &BTreeMap<String, String>,
    requested: &[Requirement],
) -> Result<Solution, Conflict> {
    let mut solver = Solver::new(known, release, current, budget);
    let mut root = Vec::new();
    let mut asked: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (name, version) in current {
        if name.starts_with(BACKSTAGE_SCOPE) || requested.iter().any(|r| &r.package == name) {
            continue;
        }
        if solver.entries.contains_key(name.as_str()) {
            root.push((Pkg::Managed(name), Ranges::full()));
        } else {
            warnings.push(format!(
                "{name} {version} is installed but not in the directory, so its dependencies were not checked"
            ));
        }
    }
    for requirement in requested {
        let name = requirement.package.as_str();
        asked.entry(name).or_default().push(&requirement.range);
        let Some(range) = NpmRange::parse(&requirement.range) else {
            problems.push(format!(
                "The range \"{}\" requested for {name} cannot be read as an npm range",
                requirement.range
            ));
            continue;
        };
        match solver.target(name) {
            Some(target) => merge(&mut root, target.pkg(), solver.matching(target, &range)),
            None if name.starts_with(BACKSTAGE_SCOPE) => {
                if let Some(reason) = Reason::from_offer(offer(release, name, &range)) {
                    let tail = reason.tail(&solver.place);
                    warnings
                        .push(format!("You asked for {name} {}{tail}; this usually still works", requirement.range));
                }
            }
            None => problems.push(format!("{name} is not in the directory")),
        }
    }
    if !problems.is_empty() {
        return Err(Conflict { explanation: unique(problems), suggestions: Vec::new() });
    }
    solver.root = root;
    solver.asked = asked;
    match pubgrub::resolve(&solver, Pkg::Root, ROOT) {
        Ok(selected) => Ok(solver.solution(selected, warnings)),
        Err(PubGrubError::NoSolution(mut tree)) => {
            tree.collapse_no_versions();
            let involved: BTreeSet<&str> = tree.packages().into_iter().map(|pkg| pkg.name()).collect();
            let suggestions = solver.suggestions(requested, &involved, releases);
            Err(Conflict { explanation: solver.explain(&tree), suggestions })
        }
        Err(_) => {
            let stopped = format!(
                "Finding a compatible set took more than {budget} steps, so it was stopped; ask for fewer changes at \
                 once or name exact versions"
            );
            let suggestions = solver.suggestions(requested, &BTreeSet::new(), releases);
            Err(Conflict { explanation: vec![stopped], suggestions })
        }
    }
}

/// Whether one version runs on one release: only the release decides, so managed dependencies are not checked.
pub fn compatibility(version: &KnownVersion, release: &Release) -> Compatibility {
    let place = format!("Backstage {}", release.version);
    let sentences = |tone| {
        unique(release_blockers(version, release, tone).iter().map(|b| b.sentence("This version", false, tone, &place)))
    };
    let problems = sentences(Tone::Hard);
    Compatibility { compatible: problems.is_empty(), problems, warnings: sentences(Tone::Soft) }
}

/// An npm range with npm's matching rules.
///
/// nodejs-semver applies npm's prerelease rule (a prerelease matches only through a comparator with the same
/// major.minor.patch that has a prerelease itself; `*` matches none), but turns a comparator set that cannot
/// hold as a whole (`">=2.0.0 <1.0.0"`, `"1.2.3 1.2.4"`) into the union of its comparators, where npm matches
/// nothing. Parsing each `||` alternative on its own and dropping such sets restores npm's meaning.
struct NpmRange(Vec<Range>);

impl NpmRange {
    /// None when npm would reject the range too (`latest`, `workspace:^`, `| 2`).
    fn parse(text: &str) -> Option<Self> {
        let mut sets = Vec::new();
        for alternative in text.split("||") {
            let set = Range::parse(alternative.trim()).ok()?;
            if !set.to_string().contains("||") {
                sets.push(set);
            }
        }
        Some(Self(sets))
    }

    /// True when any alternative holds, the prerelease rule included.
    fn matches(&self, version: &Version) -> bool {
        self.0.iter().any(|set| version.satisfies(set))
    }
}

/// Whether a `@backstage/*` requirement is a hard constraint or only worth a warning.
#[derive(Clone, Copy, PartialEq)]
enum Tone {
    Hard,
    Soft,
}

/// What a release offers for one `@backstage/*` requirement.
enum Offer<'r> {
    Fits,
    Other(&'r str),
    Absent,
}

/// A pinned version that cannot be read fits no range, so the sentence shows it as written.
fn offer<'r>(release: &'r Release, name: &str, range: &NpmRange) -> Offer<'r> {
    match release.packages.get(name) {
        None => Offer::Absent,
        Some(pinned) if Version::parse(pinned).is_ok_and(|v| range.matches(&v)) => Offer::Fits,
        Some(pinned) => Offer::Other(pinned),
    }
}

/// Why one declared dependency cannot be met.
enum Reason<'a> {
    /// The release ships another version of a `@backstage/*` package.
    Other(&'a str),
    /// The release does not ship the `@backstage/*` package at all.
    Absent,
    /// No known version of a managed package matches; holds the list of known versions in words.
    NoMatch(String),
    /// npm could not read the range either.
    Unreadable,
}

impl<'a> Reason<'a> {
    /// None when the release fits.
    fn from_offer(offer: Offer<'a>) -> Option<Self> {
        match offer {
            Offer::Fits => None,
            Offer::Other(version) => Some(Self::Other(version)),
            Offer::Absent => Some(Self::Absent),
        }
    }

    /// The part of a sentence after `X needs Y <range>`.
    fn tail(&self, place: &str) -> String {
        match self {
            Self::Other(version) => format!(" — {place} provides {version}"),
            Self::Absent => format!(" — {place} does not include it"),
            Self::NoMatch(known) => format!(" — no known version matches ({known})"),
            Self::Unreadable => " — the range cannot be read as an npm range".to_string(),
        }
    }
}

/// One declared dependency that cannot be met, worded later for whichever subject it concerns.
struct Blocker<'a> {
    dep: &'a str,
    /// The declared range; "^1.0.0 and ^2.0.0" when a dependency is also a peer dependency.
    range: String,
    reason: Reason<'a>,
}

impl Blocker<'_> {
    /// `subject` is `This version` or `<package> <versions>`; `plural` when it names several versions.
    fn sentence(&self, subject: &str, plural: bool, tone: Tone, place: &str) -> String {
        let verb = match (tone, plural) {
            (Tone::Hard, false) => "needs",
            (Tone::Hard, true) => "need",
            (Tone::Soft, false) => "expects",
            (Tone::Soft, true) => "expect",
        };
        let range = match self.reason {
            Reason::Unreadable => format!("\"{}\"", self.range),
            _ => self.range.clone(),
        };
        let hint = match (tone, &self.reason) {
            (Tone::Soft, Reason::Other(_) | Reason::Absent) => "; this usually still works",
            _ => "",
        };
        format!("{subject} {verb} {} {range}{}{hint}", self.dep, self.reason.tail(place))
    }
}

/// Every declared dependency of a version, regular ones first, then peers.
fn declared(version: &KnownVersion) -> impl Iterator<Item = (&str, &str)> {
    version.dependencies.iter().chain(&version.peer_dependencies).map(|(name, range)| (name.as_str(), range.as_str()))
}

/// Whether a mismatch on `name` breaks the plugin at runtime.
fn is_host(name: &str) -> bool {
    HOST_SINGLETONS.contains(&name)
}

/// The `@backstage/*` requirements of `version` that `release` does not meet, hard (singletons) or soft.
fn release_blockers<'a>(version: &'a KnownVersion, release: &'a Release, tone: Tone) -> Vec<Blocker<'a>> {
    let mut blockers = Vec::new();
    for (dep, range) in declared(version) {
        let hard = is_host(dep);
        if !dep.starts_with(BACKSTAGE_SCOPE) || hard != (tone == Tone::Hard) {
            continue;
        }
        let reason = match NpmRange::parse(range) {
            None => Some(Reason::Unreadable),
            Some(parsed) => Reason::from_offer(offer(release, dep, &parsed)),
        };
        blockers.extend(reason.map(|reason| Blocker { dep, range: range.to_string(), reason }));
    }
    blockers
}

/// The releases (in the given order) on which every host singleton `version` needs is provided, as
/// "1.44.0 to 1.44.3" runs; None when there is none.
fn release_runs(version: &KnownVersion, releases: &[Release]) -> Option<String> {
    let mut runs: Vec<(&str, &str)> = Vec::new();
    let mut extending = false;
    for release in releases {
        let fits = release_blockers(version, release, Tone::Hard).is_empty();
        match runs.last_mut() {
            Some(run) if fits && extending => run.1 = &release.version,
            _ if fits => runs.push((&release.version, &release.version)),
            _ => {}
        }
        extending = fits;
    }
    let phrases: Vec<String> = runs
        .iter()
        .map(|(first, last)| if first == last { first.to_string() } else { format!("{first} to {last}") })
        .collect();
    (!phrases.is_empty()).then(|| join_words(&phrases, "or"))
}

/// "a", "a and b", "a, b and c".
fn join_words(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// Versions of one package in a sentence; long lists become a span so sentences stay readable.
fn version_list(labels: &[&str]) -> String {
    match labels {
        [first, .., last] if labels.len() > 4 => format!("{first} to {last} ({} versions)", labels.len()),
        _ => join_words(&labels.iter().map(|l| l.to_string()).collect::<Vec<_>>(), "and"),
    }
}

/// Keeps the first occurrence of each sentence, in order.
fn unique(sentences: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    sentences.into_iter().filter(|s| seen.insert(s.clone())).collect()
}

/// Adds a constraint, intersecting it with an earlier one on the same package (a dependency that is also a
/// peer dependency, or a package requested twice).
fn merge<'a>(constraints: &mut Vec<(Pkg<'a>, VersionSet)>, pkg: Pkg<'a>, set: VersionSet) {
    match constraints.iter_mut().find(|(p, _)| *p == pkg) {
        Some((_, existing)) => *existing = existing.intersection(&set),
        None => constraints.push((pkg, set)),
    }
}

/// A package as PubGrub sees it. Host singletons are packages whose only version is the release's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pkg<'a> {
    Root,
    Managed(&'a str),
    Host(&'a str),
}

impl<'a> Pkg<'a> {
    /// The npm name; empty for the root.
    fn name(self) -> &'a str {
        match self {
            Pkg::Root => "",
            Pkg::Managed(name) | Pkg::Host(name) => name,
        }
    }
}

impl fmt::Display for Pkg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("the requested set"),
            _ => f.write_str(self.name()),
        }
    }
}

/// A version as PubGrub sees it: its rank among the package's known versions in ascending semver order (the
/// release's version of a host singleton and the root's only version are rank 0). A bare integer keeps the sets
/// PubGrub copies around small and cheap to compare; the package's candidates hold the registry's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ver(u32);

impl fmt::Display for Ver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The single version of the root package.
const ROOT: Ver = Ver(0);

/// A set of versions of one package. Built only as unions of singletons of known versions, so two ranges that
/// match the same known versions give equal sets.
type VersionSet = Ranges<Ver>;

/// PubGrub's proof of a conflict; `String` carries the sentence of an unreadable dependency range.
type Tree<'a> = DerivationTree<Pkg<'a>, VersionSet, String>;

/// A known version whose semver could be read.
struct Candidate<'a> {
    semver: Version,
    known: &'a KnownVersion,
}

/// The known versions of one managed package, parsed on first use (a directory can hold far more packages
/// than a tenant touches).
struct Entry<'a> {
    published: &'a [KnownVersion],
    installed: Option<&'a str>,
    parsed: OnceCell<Parsed<'a>>,
}

impl<'a> Entry<'a> {
    /// The parsed versions, parsed once per resolution.
    fn parsed(&self) -> &Parsed<'a> {
        self.parsed.get_or_init(|| Parsed::new(self.published, self.installed))
    }
}

/// The versions of one managed package in the forms the solver needs.
struct Parsed<'a> {
    /// Ascending semver order; the index is the version's rank. Unreadable versions are left out and of two
    /// spellings of one version (build metadata) the first published is kept.
    candidates: Vec<Candidate<'a>>,
    /// Rank of the installed version, which is preferred over every other.
    installed: Option<u32>,
    /// Ranks in order of preference: highest non-deprecated stable, then non-deprecated prereleases, then
    /// deprecated versions, each highest first.
    merit: Vec<u32>,
}

impl<'a> Parsed<'a> {
    /// Orders, de-duplicates and ranks what the registry serves.
    fn new(published: &'a [KnownVersion], installed: Option<&str>) -> Self {
        let mut candidates: Vec<Candidate<'a>> = published
            .iter()
            .filter_map(|known| Version::parse(&known.version).ok().map(|semver| Candidate { semver, known }))
            .collect();
        candidates.sort_by(|a, b| a.semver.cmp(&b.semver));
        candidates.dedup_by(|later, earlier| later.semver == earlier.semver);
        let installed = installed
            .and_then(|v| Version::parse(v).ok())
            .and_then(|v| candidates.iter().position(|c| c.semver == v))
            .map(|rank| rank as u32);
        let mut merit: Vec<u32> = (0..candidates.len() as u32).rev().collect();
        merit.sort_by_key(|&rank| {
            let candidate = &candidates[rank as usize];
            (candidate.known.deprecated, candidate.semver.is_prerelease())
        });
        Self { candidates, installed, merit }
    }

    /// The canonical set of known versions `range` matches.
    fn matching(&self, range: &NpmRange) -> VersionSet {
        (0..self.candidates.len() as u32)
            .filter(|&rank| range.matches(&self.candidates[rank as usize].semver))
            .map(|rank| (Bound::Included(Ver(rank)), Bound::Included(Ver(rank))))
            .collect()
    }

    /// The known versions in `set`, lowest first.
    fn within<'s>(&'s self, set: &'s VersionSet) -> impl Iterator<Item = &'s Candidate<'a>> + 's {
        (0..self.candidates.len() as u32)
            .filter(|&rank| set.contains(&Ver(rank)))
            .map(|rank| &self.candidates[rank as usize])
    }

    /// Whether the installed version is still allowed, which makes the package decided early.
    fn installed_in(&self, set: &VersionSet) -> bool {
        self.installed.is_some_and(|rank| set.contains(&Ver(rank)))
    }

    /// The installed version if allowed, else the best by merit: an install moves nothing it does not have to.
    fn choose(&self, set: &VersionSet) -> Option<Ver> {
        self.installed.into_iter().chain(self.merit.iter().copied()).map(Ver).find(|v| set.contains(v))
    }

    /// "known: 1.7.0, 1.9.1" for sentences that say no version matches.
    fn describe(&self) -> String {
        let labels: Vec<&str> = self.candidates.iter().map(|c| c.known.version.as_str()).collect();
        match labels.as_slice() {
            [] => "no version is known".to_string(),
            [first, .., last] if labels.len() > 10 => {
                format!("known: {} versions from {first} to {last}", labels.len())
            }
            _ => format!("known: {}", labels.join(", ")),
        }
    }
}

/// A dependency PubGrub must solve: a host singleton or a managed package.
#[derive(Clone, Copy)]
enum Target<'s, 'a> {
    Host(&'a str),
    Managed(&'a str, &'s Entry<'a>),
}

impl<'a> Target<'_, 'a> {
    /// The package PubGrub solves for this target.
    fn pkg(self) -> Pkg<'a> {
        match self {
            Target::Host(name) => Pkg::Host(name),
            Target::Managed(name, _) => Pkg::Managed(name),
        }
    }
}

/// One "A needs B" fact of a PubGrub proof whose target still has versions left.
struct Need<'t, 'a> {
    from: Pkg<'a>,
    from_set: &'t VersionSet,
    to: Pkg<'a>,
    to_set: &'t VersionSet,
}

/// The order PubGrub decides packages in: dead ends first (they fail fast), then installed packages whose
/// installed version is still allowed (so a new install adapts to them, not the reverse), then the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    Open,
    Installed,
    Dead,
}

/// The only error the provider raises: the step budget is spent.
#[derive(Debug)]
struct OutOfSteps;

impl fmt::Display for OutOfSteps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the resolution ran out of steps")
    }
}

impl std::error::Error for OutOfSteps {}

/// The PubGrub dependency provider for one resolution.
struct Solver<'a> {
    entries: HashMap<&'a str, Entry<'a>>,
    release: &'a Release,
    /// "your platform (Backstage 1.42.0)".
    place: String,
    /// The root's constraints: installed packages (any known version) and requested ranges.
    root: Vec<(Pkg<'a>, VersionSet)>,
    /// Requested ranges per package, quoted back in explanations.
    asked: BTreeMap<&'a str, Vec<&'a str>>,
    /// Steps taken so far and the most allowed.
    steps: Cell<u32>,
    budget: u32,
}

impl<'a> Solver<'a> {
    /// Every managed package of the directory; `@backstage/*` entries of `known` follow the release instead.
    fn new(known: &'a Known, release: &'a Release, current: &'a BTreeMap<String, String>, budget: u32) -> Self {
        let entries = known
            .iter()
            .filter(|(name, _)| !name.starts_with(BACKSTAGE_SCOPE))
            .map(|(name, published)| {
                let installed = current.get(name).map(String::as_str);
                (name.as_str(), Entry { published, installed, parsed: OnceCell::new() })
            })
            .collect();
        let place = format!("your platform (Backstage {})", release.version);
        Self { entries, release, place, root: Vec::new(), asked: BTreeMap::new(), steps: Cell::new(0), budget }
    }

    /// None for what the solver leaves alone: other `@backstage/*` packages (warnings) and runtime packages.
    fn target(&self, name: &'a str) -> Option<Target<'_, 'a>> {
        if is_host(name) {
            Some(Target::Host(name))
        } else if name.starts_with(BACKSTAGE_SCOPE) {
            None
        } else {
            self.entries.get(name).map(|entry| Target::Managed(name, entry))
        }
    }

    /// The host singleton's only version, or none when the release does not ship it.
    fn host_version(&self, name: &'a str) -> Option<Ver> {
        self.release.packages.contains_key(name).then_some(Ver(0))
    }

    /// The versions of `target` that `range` allows.
    fn matching(&self, target: Target<'_, 'a>, range: &NpmRange) -> VersionSet {
        match target {
            Target::Host(name) => match self.release.packages.get(name) {
                Some(pinned) if Version::parse(pinned).is_ok_and(|semver| range.matches(&semver)) => {
                    Ranges::singleton(Ver(0))
                }
                _ => Ranges::empty(),
            },
            Target::Managed(_, entry) => entry.parsed().matching(range),
        }
    }

    /// How many real versions `set` holds for `pkg`.
    fn count_in(&self, pkg: Pkg<'a>, set: &VersionSet) -> usize {
        match pkg {
            Pkg::Root => 1,
            Pkg::Host(name) => usize::from(self.host_version(name).is_some_and(|v| set.contains(&v))),
            Pkg::Managed(name) => self.entries.get(name).map_or(0, |entry| entry.parsed().within(set).count()),
        }
    }

    /// The constraints one version puts on the solve, or the sentence saying why they cannot be read.
    fn constraints(&self, name: &'a str, known: &'a KnownVersion) -> Result<Vec<(Pkg<'a>, VersionSet)>, String> {
        let mut constraints = Vec::new();
        for (dep, range) in declared(known) {
            let Some(target) = self.target(dep).filter(|_| dep != name) else { continue };
            let Some(parsed) = NpmRange::parse(range) else {
                let blocker = Blocker { dep, range: range.to_string(), reason: Reason::Unreadable };
                return Err(blocker.sentence(&format!("{name} {}", known.version), false, Tone::Hard, &self.place));
            };
            merge(&mut constraints, target.pkg(), self.matching(target, &parsed));
        }
        Ok(constraints)
    }

    /// Everything that stops one version on this release: host singletons, managed dependencies without a
    /// matching known version, unreadable ranges. Listing all of them saves the person a round trip per fix.
    fn blockers(&self, known: &'a KnownVersion) -> Vec<Blocker<'a>> {
        let mut blockers = release_blockers(known, self.release, Tone::Hard);
        for (dep, range) in declared(known) {
            let Some(Target::Managed(_, entry)) = self.target(dep) else { continue };
            let reason = match NpmRange::parse(range) {
                None => Reason::Unreadable,
                Some(parsed) if entry.parsed().matching(&parsed).is_empty() => {
                    Reason::NoMatch(entry.parsed().describe())
                }
                Some(_) => continue,
            };
            blockers.push(Blocker { dep, range: range.to_string(), reason });
        }
        blockers
    }

    /// The managed packages PubGrub chose, with warnings for soft mismatches and moved installed packages.
    fn solution(&self, selected: SelectedDependencies<Pkg<'a>, Ver>, mut warnings: Vec<String>) -> Solution {
        let chosen: BTreeMap<&str, Ver> = selected
            .into_iter()
            .filter_map(|(pkg, v)| if let Pkg::Managed(name) = pkg { Some((name, v)) } else { None })
            .collect();
        let mut packages = BTreeMap::new();
        for (name, v) in chosen {
            let Some(entry) = self.entries.get(name) else { continue };
            let parsed = entry.parsed();
            let Some(candidate) = parsed.candidates.get(v.0 as usize) else { continue };
            let label = &candidate.known.version;
            packages.insert(name.to_string(), label.clone());
            let subject = format!("{name} {label}");
            let soft = release_blockers(candidate.known, self.release, Tone::Soft);
            warnings.extend(soft.iter().map(|b| b.sentence(&subject, false, Tone::Soft, &self.place)));
            if let Some(old) =
                entry.installed.filter(|_| parsed.installed != Some(v.0) && !self.asked.contains_key(name))
            {
                warnings.push(format!("{name} moves from {old} to {label} to fit the new set"));
            }
        }
        Solution { packages, warnings: unique(warnings) }
    }

    /// Turns PubGrub's proof into sentences: blocking facts first, then clashes between two requirements,
    /// then the requirements that lead there.
    fn explain(&self, tree: &Tree<'a>) -> Vec<String> {
        let mut sentences = Vec::new();
        let mut needs = Vec::new();
        for external in leaves(tree) {
            match external {
                External::NotRoot(..) => {}
                External::Custom(_, _, reason) => sentences.push(reason.clone()),
                External::NoVersions(pkg, _) => sentences.extend(self.nothing_left(*pkg)),
                External::FromDependencyOf(from, from_set, to, to_set) => {
                    if self.count_in(*to, to_set) == 0 {
                        sentences.extend(self.dead_ends(*from, from_set, *to));
                    } else {
                        needs.push(Need { from: *from, from_set, to: *to, to_set });
                    }
                }
            }
        }
        let mut in_clash = vec![false; needs.len()];
        for (i, a) in needs.iter().enumerate() {
            for (j, b) in needs.iter().enumerate().skip(i + 1) {
                if a.to == b.to && a.from != b.from && self.count_in(a.to, &a.to_set.intersection(b.to_set)) == 0 {
                    let (first, second) = (self.need_clause(a, true), self.need_clause(b, false));
                    sentences.push(format!("{first} but {second}; no known version of {} satisfies both", a.to));
                    in_clash[i] = true;
                    in_clash[j] = true;
                }
            }
        }
        let mut context: Vec<&Need> =
            needs.iter().zip(&in_clash).filter(|(_, clash)| !**clash).map(|(n, _)| n).collect();
        context.sort_by_key(|need| need.from != Pkg::Root);
        sentences.extend(context.iter().map(|need| self.need_clause(need, true)).filter(|c| !c.is_empty()));
        let mut sentences = unique(sentences);
        if sentences.len() > MAX_EXPLANATION {
            let more = sentences.len() - MAX_EXPLANATION;
            sentences.truncate(MAX_EXPLANATION);
            sentences
                .push(format!("{more} more constraints are involved; resolving fewer packages at once shows them"));
        }
        sentences
    }

    /// "You asked for X ^1.0.0" (lower-case "you" inside a sentence) or "X 1.2.0 is installed".
    fn root_clause(&self, to: Pkg<'a>, start: bool) -> String {
        let you = if start { "You" } else { "you" };
        match self.asked.get(to.name()) {
            Some(ranges) => format!("{you} asked for {to} {}", ranges.join(" and ")),
            None => match self.entries.get(to.name()).and_then(|entry| entry.installed) {
                Some(version) => format!("{to} {version} is installed"),
                None => format!("{to} is installed"),
            },
        }
    }

    /// The declared range(s) of one dependency of a version, as written in its manifest.
    fn declared_range(known: &KnownVersion, dep: &str) -> String {
        declared(known).filter(|(name, _)| *name == dep).map(|(_, range)| range).collect::<Vec<_>>().join(" and ")
    }

    /// "A 1.0.0 and 1.1.0 need C ^1.0.0" (one clause per distinct range), or the root's clause.
    fn need_clause(&self, need: &Need<'_, 'a>, start: bool) -> String {
        let Pkg::Managed(name) = need.from else { return self.root_clause(need.to, start) };
        let Some(entry) = self.entries.get(name) else { return String::new() };
        let mut by_range: Vec<(String, Vec<&str>)> = Vec::new();
        for candidate in entry.parsed().within(need.from_set) {
            let range = Self::declared_range(candidate.known, need.to.name());
            match by_range.iter_mut().find(|(r, _)| *r == range) {
                Some((_, versions)) => versions.push(&candidate.known.version),
                None => by_range.push((range, vec![&candidate.known.version])),
            }
        }
        let clauses: Vec<String> = by_range
            .iter()
            .map(|(range, versions)| {
                let verb = if versions.len() > 1 { "need" } else { "needs" };
                format!("{name} {} {verb} {} {range}", version_list(versions), need.to)
            })
            .collect();
        join_words(&clauses, "and")
    }

    /// Sentences for a requirement no real version can meet.
    fn dead_ends(&self, from: Pkg<'a>, from_set: &VersionSet, to: Pkg<'a>) -> Vec<String> {
        match from {
            Pkg::Root => {
                let reason = match to {
                    Pkg::Host(name) => Reason::from_offer(match self.release.packages.get(name) {
                        Some(pinned) => Offer::Other(pinned),
                        None => Offer::Absent,
                    }),
                    Pkg::Managed(name) => {
                        self.entries.get(name).map(|entry| Reason::NoMatch(entry.parsed().describe()))
                    }
                    Pkg::Root => None,
                };
                let tail = reason.map(|r| r.tail(&self.place)).unwrap_or_default();
                vec![format!("{}{tail}", self.root_clause(to, true))]
            }
            Pkg::Host(_) => Vec::new(),
            Pkg::Managed(name) => {
                let Some(entry) = self.entries.get(name) else { return Vec::new() };
                let mut groups: Vec<(String, Blocker<'a>, Vec<&str>)> = Vec::new();
                for candidate in entry.parsed().within(from_set) {
                    let mut blockers = self.blockers(candidate.known);
                    if blockers.is_empty() {
                        // Each range matches something, but not the same version (a dependency that is also a peer).
                        let range = Self::declared_range(candidate.known, to.name());
                        let known = match to {
                            Pkg::Managed(dep) => self.entries.get(dep).map(|e| e.parsed().describe()),
                            _ => None,
                        };
                        let reason = known.map_or(Reason::Absent, Reason::NoMatch);
                        blockers.push(Blocker { dep: to.name(), range, reason });
                    }
                    for blocker in blockers {
                        let key = blocker.sentence("", false, Tone::Hard, &self.place);
                        match groups.iter_mut().find(|(k, _, _)| *k == key) {
                            Some((_, _, versions)) => versions.push(&candidate.known.version),
                            None => groups.push((key, blocker, vec![&candidate.known.version])),
                        }
                    }
                }
                groups
                    .iter()
                    .map(|(_, blocker, versions)| {
                        let subject = format!("{name} {}", version_list(versions));
                        blocker.sentence(&subject, versions.len() > 1, Tone::Hard, &self.place)
                    })
                    .collect()
            }
        }
    }

    /// The sentence for a package whose remaining allowed versions are all unknown.
    fn nothing_left(&self, pkg: Pkg<'a>) -> Option<String> {
        match pkg {
            Pkg::Root => None,
            Pkg::Host(name) => Some(match self.release.packages.get(name) {
                Some(pinned) => format!("{name} {pinned} from {} does not fit the other requirements", self.place),
                None => format!("Backstage {} does not include {name}", self.release.version),
            }),
            Pkg::Managed(name) => self.entries.get(name).map(|entry| {
                format!("No known version of {name} fits every requirement at once ({})", entry.parsed().describe())
            }),
        }
    }

    /// For each requested package, and each installed package the proof involves, whose allowed versions all
    /// fail a host singleton of this release: the releases its preferred version would run on, and the newest
    /// version of it that runs on this release. Packages the platform does not block get no suggestion.
    fn suggestions(
        &self,
        requested: &'a [Requirement],
        involved: &BTreeSet<&'a str>,
        releases: &[Release],
    ) -> Vec<String> {
        let mut considered: Vec<(&str, &Entry<'a>, VersionSet)> = Vec::new();
        for requirement in requested {
            let target = self.target(&requirement.package);
            if let (Some(Target::Managed(name, entry)), Some(range)) = (target, NpmRange::parse(&requirement.range)) {
                considered.push((name, entry, entry.parsed().matching(&range)));
            }
        }
        for &name in involved.iter().filter(|name| !self.asked.contains_key(*name)) {
            if let Some(entry) = self.entries.get(name).filter(|entry| entry.installed.is_some()) {
                considered.push((name, entry, Ranges::full()));
            }
        }
        let mut suggestions = Vec::new();
        for (name, entry, allowed) in considered {
            let parsed = entry.parsed();
            let runs_here = |known: &KnownVersion| release_blockers(known, self.release, Tone::Hard).is_empty();
            if parsed.within(&allowed).any(|candidate| runs_here(candidate.known)) {
                continue;
            }
            let Some(preferred) = parsed.choose(&allowed) else { continue };
            let known = parsed.candidates[preferred.0 as usize].known;
            let subject = format!("{name} {}", known.version);
            suggestions.push(match release_runs(known, releases) {
                Some(runs) => format!("Backstage {runs} would run {subject}"),
                None => {
                    let hard = release_blockers(known, self.release, Tone::Hard);
                    let needs: Vec<String> = hard.iter().map(|b| format!("{} {}", b.dep, b.range)).collect();
                    format!("No known Backstage release provides what {subject} needs ({})", needs.join(", "))
                }
            });
            let newest = parsed.merit.iter().map(|&rank| parsed.candidates[rank as usize].known).find(|k| runs_here(k));
            suggestions.push(match newest {
                Some(known) => format!("{name} {} works on Backstage {}", known.version, self.release.version),
                None => format!("No known version of {name} works on Backstage {}", self.release.version),
            });
        }
        unique(suggestions)
    }
}

/// The external facts of a proof, each shared sub-proof visited once, without recursion (proofs can be deep).
fn leaves<'t, 'a>(tree: &'t Tree<'a>) -> Vec<&'t External<Pkg<'a>, VersionSet, String>> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        match node {
            DerivationTree::External(external) => found.push(external),
            DerivationTree::Derived(derived) => {
                if derived.shared_id.is_some_and(|id| !seen.insert(id)) {
                    continue;
                }
                stack.push(&derived.cause2);
                stack.push(&derived.cause1);
            }
        }
    }
    found
}

impl<'a> DependencyProvider for Solver<'a> {
    type P = Pkg<'a>;
    type V = Ver;
    type VS = VersionSet;
    type M = String;
    type Err = OutOfSteps;
    type Priority = (Tier, u32, Reverse<usize>);

    fn prioritize(&self, package: &Pkg<'a>, range: &VersionSet, stats: &PackageResolutionStatistics) -> Self::Priority {
        let count = self.count_in(*package, range);
        let installed = match package {
            Pkg::Managed(name) => self.entries.get(name).is_some_and(|entry| entry.parsed().installed_in(range)),
            _ => false,
        };
        let tier = match (count, installed) {
            (0, _) => Tier::Dead,
            (_, true) => Tier::Installed,
            _ => Tier::Open,
        };
        (tier, stats.conflict_count(), Reverse(count))
    }

    fn choose_version(&self, package: &Pkg<'a>, range: &VersionSet) -> Result<Option<Ver>, OutOfSteps> {
        Ok(match package {
            Pkg::Root => Some(ROOT).filter(|v| range.contains(v)),
            Pkg::Host(name) => self.host_version(name).filter(|v| range.contains(v)),
            Pkg::Managed(name) => self.entries.get(name).and_then(|entry| entry.parsed().choose(range)),
        })
    }

    fn get_dependencies(
        &self,
        package: &Pkg<'a>,
        version: &Ver,
    ) -> Result<Dependencies<Pkg<'a>, VersionSet, String>, OutOfSteps> {
        let constraints = match package {
            Pkg::Root => Ok(self.root.clone()),
            Pkg::Host(_) => Ok(Vec::new()),
            Pkg::Managed(name) => {
                match self.entries.get(name).and_then(|entry| entry.parsed().candidates.get(version.0 as usize)) {
                    Some(candidate) => self.constraints(name, candidate.known),
                    None => Err(format!("{name} has no known version ranked {version}")),
                }
            }
        };
        Ok(match constraints {
            Ok(list) => Dependencies::Available(list.into_iter().collect()),
            Err(reason) => Dependencies::Unavailable(reason),
        })
    }

    fn should_cancel(&self) -> Result<(), OutOfSteps> {
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > self.budget {
            Err(OutOfSteps)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const TECH_RADAR: &str = "@backstage-community/plugin-tech-radar";
    const TECH_RADAR_BACKEND: &str = "@backstage-community/plugin-tech-radar-backend";
    const TECH_RADAR_COMMON: &str = "@backstage-community/plugin-tech-radar-common";
    const ARGO_CD: &str = "@roadiehq/backstage-plugin-argo-cd";
    const CORE: &str = "@backstage/core-plugin-api";
    const FRONTEND: &str = "@backstage/frontend-plugin-api";
    const BACKEND: &str = "@backstage/backend-plugin-api";
    const ROUTER_DOM: &str = "react-router-dom";

    /// The columns of [`RELEASES`].
    const RELEASE_PACKAGES: [&str; 8] = [
        CORE,
        FRONTEND,
        BACKEND,
        "@backstage/core-components",
        "@backstage/core-compat-api",
        "@backstage/catalog-model",
        "@backstage/plugin-catalog-react",
        "@backstage/config",
    ];

    /// Real pins from backstage/versions `v1/releases/<version>/manifest.json`, oldest first.
    const RELEASES: [(&str, [&str; 8]); 13] = [
        ("1.42.0", ["1.10.9", "0.11.0", "1.4.2", "0.17.5", "0.5.0", "1.7.5", "1.20.0", "1.3.3"]),
        ("1.44.0", ["1.11.1", "0.12.1", "1.4.4", "0.18.2", "0.5.3", "1.7.5", "1.21.2", "1.3.5"]),
        ("1.44.1", ["1.11.1", "0.12.1", "1.4.4", "0.18.2", "0.5.3", "1.7.5", "1.21.2", "1.3.5"]),
        ("1.44.2", ["1.11.1", "0.12.1", "1.4.4", "0.18.2", "0.5.3", "1.7.5", "1.21.2", "1.3.5"]),
        ("1.44.3", ["1.11.1", "0.12.1", "1.4.4", "0.18.2", "0.5.3", "1.7.5", "1.21.2", "1.3.5"]),
        ("1.45.0", ["1.12.0", "0.13.0", "1.5.0", "0.18.3", "0.5.4", "1.7.6", "1.21.3", "1.3.6"]),
        ("1.46.0", ["1.12.1", "0.13.2", "1.6.0", "0.18.4", "0.5.5", "1.7.6", "1.21.4", "1.3.6"]),
        ("1.47.0", ["1.12.1", "0.13.3", "1.6.1", "0.18.5", "0.5.6", "1.7.6", "1.21.5", "1.3.6"]),
        ("1.47.1", ["1.12.1", "0.13.3", "1.6.1", "0.18.5", "0.5.6", "1.7.6", "1.21.5", "1.3.6"]),
        ("1.47.2", ["1.12.2", "0.13.4", "1.6.2", "0.18.6", "0.5.7", "1.7.6", "1.21.6", "1.3.6"]),
        ("1.47.3", ["1.12.2", "0.13.4", "1.6.2", "0.18.6", "0.5.7", "1.7.6", "1.21.6", "1.3.6"]),
        ("1.47.4", ["1.12.2", "0.13.4", "1.6.2", "0.18.6", "0.5.7", "1.7.6", "1.21.6", "1.3.6"]),
        ("1.53.0", ["1.12.8", "0.17.3", "1.9.3", "0.18.12", "0.5.13", "1.9.0", "3.2.0", "1.3.8"]),
    ];

    /// Peer ranges as published by `@roadiehq/backstage-plugin-argo-cd@2.12.5`, double space included.
    const ARGO_PEERS: [(&str, &str); 4] = [
        ("react", "^16.13.1 || ^17.0.0 || ^18.0.0"),
        ("react-dom", "^16.13.1 || ^17.0.0 || ^18.0.0"),
        ("react-router", "6.0.0-beta.0  || ^6.3.0"),
        (ROUTER_DOM, "6.0.0-beta.0  || ^6.3.0"),
    ];

    const TECH_RADAR_PEERS: [(&str, &str); 3] = [
        ("react", "^16.13.1 || ^17.0.0 || ^18.0.0"),
        ("react-dom", "^16.13.1 || ^17.0.0 || ^18.0.0"),
        (ROUTER_DOM, "^6.3.0"),
    ];

    fn releases() -> Vec<Release> {
        RELEASES
            .iter()
            .map(|(version, pins)| Release {
                version: version.to_string(),
                packages: RELEASE_PACKAGES.iter().zip(pins).map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            })
            .collect()
    }

    fn release(version: &str) -> Release {
        releases().into_iter().find(|r| r.version == version).expect("release in the fixture table")
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn version(version: &str, dependencies: &[(&str, &str)], peers: &[(&str, &str)]) -> KnownVersion {
        KnownVersion {
            version: version.to_string(),
            dependencies: map(dependencies),
            peer_dependencies: map(peers),
            deprecated: false,
        }
    }

    fn ask(package: &str, range: &str) -> Requirement {
        Requirement { package: package.to_string(), range: range.to_string() }
    }

    /// The versions the partial npm mirror serves. Latest versions carry their published dependency ranges
    /// (argo-cd 2.12.5 from its manifest; tech-radar 1.14.0 and -backend 1.21.0 per marketplace.md); older
    /// versions carry ranges consistent with the release they were built against.
    fn directory() -> Known {
        let mut known = Known::new();
        let radar = |v: &str, common: &str, core: &str, frontend: &str, components: &str| {
            let deps = [
                (TECH_RADAR_COMMON, common),
                (CORE, core),
                (FRONTEND, frontend),
                ("@backstage/core-components", components),
                ("@material-ui/core", "^4.12.2"),
                ("d3-force", "^3.0.0"),
            ];
            version(v, &deps, &TECH_RADAR_PEERS)
        };
        known.insert(
            TECH_RADAR.to_string(),
            vec![
                radar("1.8.0", "^1.7.0", "^1.10.4", "^0.10.4", "^0.17.3"),
                radar("1.10.1", "^1.9.1", "^1.10.9", "^0.11.0", "^0.17.5"),
                radar("1.11.0", "^1.10.0", "^1.11.1", "^0.12.1", "^0.18.2"),
                radar("1.13.0", "^1.12.0", "^1.12.0", "^0.13.0", "^0.18.3"),
                radar("1.14.0", "^1.13.0", "^1.12.1", "^0.13.2", "^0.18.4"),
            ],
        );
        known.insert(
            TECH_RADAR_COMMON.to_string(),
            ["1.7.0", "1.9.1", "1.10.0", "1.12.0", "1.13.0"]
                .iter()
                .map(|v| version(v, &[("zod", "^3.22.4")], &[]))
                .collect(),
        );
        known.insert(
            TECH_RADAR_BACKEND.to_string(),
            vec![
                version(
                    "1.12.0",
                    &[
                        (TECH_RADAR_COMMON, "^1.9.1"),
                        (BACKEND, "^1.4.2"),
                        ("@backstage/config", "^1.3.5"),
                        ("express", "^4.17.1"),
                    ],
                    &[],
                ),
                version(
                    "1.21.0",
                    &[
                        (TECH_RADAR_COMMON, "^1.21.0"),
                        (BACKEND, "^1.10.0"),
                        ("@backstage/config", "^1.3.8"),
                        ("express", "^4.22.0"),
                    ],
                    &[],
                ),
            ],
        );
        let argo = |v: &str, core: &str, frontend: &str, components: &str, catalog_react: &str| {
            let deps = [
                ("@backstage/catalog-model", "^1.7.5"),
                ("@backstage/core-compat-api", "^0.5.0"),
                ("@backstage/core-components", components),
                (CORE, core),
                (FRONTEND, frontend),
                ("@backstage/plugin-catalog-react", catalog_react),
                ("@material-ui/core", "^4.12.2"),
                ("cross-fetch", "^4.0.0"),
                ("moment", "^2.29.1"),
            ];
            version(v, &deps, &ARGO_PEERS)
        };
        known.insert(
            ARGO_CD.to_string(),
            vec![
                argo("2.9.0", "^1.10.9", "^0.11.0", "^0.17.5", "^1.20.0"),
                argo("2.11.0", "^1.11.0", "^0.12.0", "^0.18.0", "^1.21.0"),
                // The published 2.12.5 pins `core-compat-api ^0.5.3`, the others as above.
                KnownVersion {
                    dependencies: {
                        let mut deps = argo("2.12.5", "^1.11.1", "^0.12.1", "^0.18.2", "^1.21.2").dependencies;
                        deps.insert("@backstage/core-compat-api".to_string(), "^0.5.3".to_string());
                        deps
                    },
                    ..argo("2.12.5", "^1.11.1", "^0.12.1", "^0.18.2", "^1.21.2")
                },
                argo("3.0.0-next.1", "^1.12.1", "^0.13.2", "^0.18.4", "^1.21.4"),
            ],
        );
        known
    }

    fn installed(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        map(pairs)
    }

    #[test]
    fn npm_ranges_follow_npm() {
        let cases = [
            ("*", "1.0.0-beta", false),
            ("*", "1.0.0", true),
            ("", "2.3.4", true),
            ("^6.3.0", "6.30.1", true),
            ("^6.3.0", "6.31.0-pre.0", false),
            ("6.0.0-beta.0  || ^6.3.0", "6.0.0-beta.0", true),
            ("6.0.0-beta.0  || ^6.3.0", "6.0.0-beta.1", false),
            ("6.0.0-beta.0  || ^6.3.0", "6.2.1", false),
            ("6.0.0-beta.0  || ^6.3.0", "6.3.0", true),
            ("6.0.0-beta.0  || ^6.3.0", "7.0.0-beta.0", false),
            (">=1.0.0-beta <2", "1.0.0-rc.1", true),
            (">=1.0.0-beta <2", "1.5.0-beta", false),
            ("^1.2.3-beta.2", "1.2.3-beta.4", true),
            ("^1.2.3-beta.2", "1.2.4-beta", false),
            ("<1.0.0-rc", "1.0.0-beta", true),
            ("<1.0.0", "0.9.0-beta", false),
            ("^0.13.2", "0.13.4", true),
            ("^0.13.2", "0.14.0", false),
            (">= 1.2.0  <  2", "1.5.0", true),
            ("1.0.0 ||", "3.0.0", true),
            // A comparator set that cannot hold as a whole matches nothing (nodejs-semver alone says true).
            (">=1.2.0 <1.0.0", "1.5.0", false),
            (">=1.2.0 <1.0.0", "0.5.0", false),
            ("1.2.3 1.2.4", "1.2.3", false),
            ("^1.0.0 ^2.0.0 || 3.0.0", "3.0.0", true),
        ];
        for (range, v, expected) in cases {
            let parsed = NpmRange::parse(range).unwrap_or_else(|| panic!("{range:?} parses"));
            let semver = Version::parse(v).expect("valid version");
            assert_eq!(parsed.matches(&semver), expected, "{range:?} against {v}");
        }
        for bad in ["latest", "workspace:^", "npm:zod@^3", ">="] {
            assert!(NpmRange::parse(bad).is_none(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn equal_matches_give_equal_version_sets() {
        let published = directory().remove(TECH_RADAR_COMMON).expect("fixture");
        let parsed = Parsed::new(&published, None);
        let caret = parsed.matching(&NpmRange::parse("^1.10.0").expect("range"));
        let spelled_out = parsed.matching(&NpmRange::parse(">=1.9.2 <2 || 1.12.0").expect("range"));
        assert_eq!(caret, spelled_out);
        let without_one = caret.intersection(&Ranges::singleton(Ver(4)).complement());
        assert_eq!(without_one, parsed.matching(&NpmRange::parse("1.10.0 || 1.12.0").expect("range")));
    }

    #[test]
    fn finds_the_newest_compatible_set() {
        let solution =
            resolve(&directory(), &release("1.47.4"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR, "*")])
                .expect("tech-radar installs on 1.47.4");
        assert_eq!(solution.packages, map(&[(TECH_RADAR, "1.14.0"), (TECH_RADAR_COMMON, "1.13.0")]));
        assert!(solution.warnings.is_empty(), "{:?}", solution.warnings);

        // On 1.44.0 the newest tech-radar whose host singletons fit is 1.11.0.
        let solution =
            resolve(&directory(), &release("1.44.0"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR, "*")])
                .expect("an older tech-radar installs on 1.44.0");
        assert_eq!(solution.packages[TECH_RADAR], "1.11.0");
    }

    #[test]
    fn an_install_does_not_move_installed_packages() {
        // Newer argo-cd and -common versions exist and would fit; the installed ones stay.
        let current = installed(&[(ARGO_CD, "2.11.0"), (TECH_RADAR_COMMON, "1.10.0"), (TECH_RADAR_BACKEND, "1.12.0")]);
        let solution = resolve(&directory(), &release("1.44.3"), &releases(), &current, &[ask(TECH_RADAR, "*")])
            .expect("tech-radar 1.11.0 fits beside what is installed");
        assert_eq!(
            solution.packages,
            map(&[
                (ARGO_CD, "2.11.0"),
                (TECH_RADAR, "1.11.0"),
                (TECH_RADAR_BACKEND, "1.12.0"),
                (TECH_RADAR_COMMON, "1.10.0"),
            ])
        );
        assert!(!solution.warnings.iter().any(|w| w.contains("moves from")), "{:?}", solution.warnings);
    }

    #[test]
    fn an_installed_package_that_no_longer_runs_is_named() {
        let current = installed(&[(ARGO_CD, "2.11.0")]);
        let conflict = resolve(&directory(), &release("1.45.0"), &releases(), &current, &[ask(TECH_RADAR, "*")])
            .expect_err("no argo-cd runs on 1.45.0");
        assert!(conflict.explanation.contains(&format!("{ARGO_CD} 2.11.0 is installed")), "{:?}", conflict.explanation);
        let blocker =
            format!("{ARGO_CD} 2.12.5 needs {FRONTEND} ^0.12.1 — your platform (Backstage 1.45.0) provides 0.13.0");
        assert!(conflict.explanation.contains(&blocker), "{:?}", conflict.explanation);
        // tech-radar 1.13.0 runs on 1.45.0, so only argo-cd gets suggestions.
        assert_eq!(
            conflict.suggestions,
            [
                format!("Backstage 1.44.0 to 1.44.3 would run {ARGO_CD} 2.11.0"),
                format!("No known version of {ARGO_CD} works on Backstage 1.45.0"),
            ]
        );
    }

    #[test]
    fn an_install_moves_an_installed_package_only_when_it_must_and_says_so() {
        // Every tech-radar that runs on 1.47.4 needs -common ^1.12.0 or newer; 1.9.1 is installed.
        let current = installed(&[(TECH_RADAR_COMMON, "1.9.1"), (TECH_RADAR_BACKEND, "1.12.0")]);
        let solution = resolve(&directory(), &release("1.47.4"), &releases(), &current, &[ask(TECH_RADAR, "*")])
            .expect("resolves by upgrading -common");
        assert_eq!(solution.packages[TECH_RADAR], "1.14.0");
        assert_eq!(solution.packages[TECH_RADAR_COMMON], "1.13.0");
        assert_eq!(solution.packages[TECH_RADAR_BACKEND], "1.12.0");
        assert!(solution
            .warnings
            .contains(&format!("{TECH_RADAR_COMMON} moves from 1.9.1 to 1.13.0 to fit the new set")));
    }

    #[test]
    fn a_host_singleton_conflict_is_explained_with_suggestions() {
        let conflict =
            resolve(&directory(), &release("1.42.0"), &releases(), &BTreeMap::new(), &[ask(ARGO_CD, "2.12.5")])
                .expect_err("argo-cd 2.12.5 needs Backstage 1.44");
        assert_eq!(
            conflict.explanation,
            [
                format!("{ARGO_CD} 2.12.5 needs {CORE} ^1.11.1 — your platform (Backstage 1.42.0) provides 1.10.9"),
                format!("{ARGO_CD} 2.12.5 needs {FRONTEND} ^0.12.1 — your platform (Backstage 1.42.0) provides 0.11.0"),
                format!("You asked for {ARGO_CD} 2.12.5"),
            ]
        );
        assert_eq!(
            conflict.suggestions,
            [
                format!("Backstage 1.44.0 to 1.44.3 would run {ARGO_CD} 2.12.5"),
                format!("{ARGO_CD} 2.9.0 works on Backstage 1.42.0"),
            ]
        );
        // Asking for any version instead picks the one that works.
        let solution = resolve(&directory(), &release("1.42.0"), &releases(), &BTreeMap::new(), &[ask(ARGO_CD, "*")])
            .expect("argo-cd 2.9.0 runs on 1.42.0");
        assert_eq!(solution.packages[ARGO_CD], "2.9.0");
    }

    #[test]
    fn every_blocker_of_a_version_is_named() {
        let conflict = resolve(
            &directory(),
            &release("1.53.0"),
            &releases(),
            &BTreeMap::new(),
            &[ask(TECH_RADAR_BACKEND, "^1.21.0")],
        )
        .expect_err("no -common ^1.21.0 is served and no release has backend-plugin-api 1.10");
        let common = format!(
            "{TECH_RADAR_BACKEND} 1.21.0 needs {TECH_RADAR_COMMON} ^1.21.0 — no known version matches \
             (known: 1.7.0, 1.9.1, 1.10.0, 1.12.0, 1.13.0)"
        );
        let host = format!(
            "{TECH_RADAR_BACKEND} 1.21.0 needs {BACKEND} ^1.10.0 — your platform (Backstage 1.53.0) provides 1.9.3"
        );
        assert!(conflict.explanation.contains(&common), "{:?}", conflict.explanation);
        assert!(conflict.explanation.contains(&host), "{:?}", conflict.explanation);
        assert_eq!(
            conflict.suggestions,
            [
                format!(
                    "No known Backstage release provides what {TECH_RADAR_BACKEND} 1.21.0 needs ({BACKEND} ^1.10.0)"
                ),
                format!("{TECH_RADAR_BACKEND} 1.12.0 works on Backstage 1.53.0"),
            ]
        );
        for sentence in conflict.explanation.iter().chain(&conflict.suggestions) {
            for jargon in ["root", "And because", "depends on", "is forbidden", "∅"] {
                assert!(!sentence.contains(jargon), "{sentence:?} contains {jargon:?}");
            }
        }
    }

    #[test]
    fn two_requirements_that_cannot_both_hold_are_named_together() {
        let requested = [ask(TECH_RADAR, "1.14.0"), ask(TECH_RADAR_COMMON, "1.9.1")];
        let conflict = resolve(&directory(), &release("1.47.4"), &releases(), &BTreeMap::new(), &requested)
            .expect_err("tech-radar 1.14.0 needs -common ^1.13.0");
        let clash = format!(
            "{TECH_RADAR} 1.14.0 needs {TECH_RADAR_COMMON} ^1.13.0 but you asked for {TECH_RADAR_COMMON} 1.9.1; \
             no known version of {TECH_RADAR_COMMON} satisfies both"
        );
        let reversed = format!(
            "You asked for {TECH_RADAR_COMMON} 1.9.1 but {TECH_RADAR} 1.14.0 needs {TECH_RADAR_COMMON} ^1.13.0; \
             no known version of {TECH_RADAR_COMMON} satisfies both"
        );
        assert!(
            conflict.explanation.contains(&clash) || conflict.explanation.contains(&reversed),
            "{:?}",
            conflict.explanation
        );
        assert!(conflict.suggestions.is_empty(), "the platform is not the problem: {:?}", conflict.suggestions);
    }

    /// `react-router-dom` becomes a managed package so that argo-cd's peer range is solved.
    fn with_router(versions: &[&str]) -> Known {
        let mut known = directory();
        known.insert(ROUTER_DOM.to_string(), versions.iter().map(|v| version(v, &[], &[])).collect());
        known
    }

    #[test]
    fn prereleases_are_chosen_only_when_a_range_names_them() {
        let argo = [ask(ARGO_CD, "2.12.5")];
        let on = |known: &Known, requested: &[Requirement]| {
            resolve(known, &release("1.44.0"), &releases(), &BTreeMap::new(), requested)
        };
        let solution = on(&with_router(&["6.0.0-beta.0", "6.30.1", "6.31.0-pre.0"]), &argo).expect("resolves");
        assert_eq!(solution.packages[ROUTER_DOM], "6.30.1", "^6.3.0 does not reach 6.31.0-pre.0");

        let solution =
            on(&with_router(&["6.0.0-beta.0", "6.0.0-beta.1", "6.2.1", "6.31.0-pre.0"]), &argo).expect("resolves");
        assert_eq!(solution.packages[ROUTER_DOM], "6.0.0-beta.0", "only the named prerelease matches");

        let solution = on(&with_router(&["6.30.1", "6.31.0-pre.0"]), &[ask(ROUTER_DOM, "*")]).expect("resolves");
        assert_eq!(solution.packages[ROUTER_DOM], "6.30.1");

        let conflict =
            on(&with_router(&["6.31.0-pre.0"]), &[ask(ROUTER_DOM, "*")]).expect_err("* matches no prerelease");
        assert_eq!(
            conflict.explanation,
            [format!("You asked for {ROUTER_DOM} * — no known version matches (known: 6.31.0-pre.0)")]
        );

        // The default choice never falls on the prerelease argo-cd 3.0.0-next.1, even where it would run.
        let solution = on(&directory(), &[ask(ARGO_CD, "*")]).expect("resolves");
        assert_eq!(solution.packages[ARGO_CD], "2.12.5");
    }

    #[test]
    fn deprecated_versions_come_last() {
        let mut known = directory();
        let common = known.get_mut(TECH_RADAR_COMMON).expect("fixture");
        common.iter_mut().filter(|v| v.version == "1.13.0").for_each(|v| v.deprecated = true);
        common.push(version("1.14.0-rc.0", &[], &[]));
        let solution =
            resolve(&known, &release("1.47.4"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR_COMMON, "*")])
                .expect("resolves");
        assert_eq!(solution.packages[TECH_RADAR_COMMON], "1.12.0", "highest stable non-deprecated");
        let range = "1.14.0-rc.0 || 1.13.0";
        let solution =
            resolve(&known, &release("1.47.4"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR_COMMON, range)])
                .expect("resolves");
        assert_eq!(solution.packages[TECH_RADAR_COMMON], "1.14.0-rc.0", "a prerelease before a deprecated version");
    }

    #[test]
    fn an_unreadable_range_is_a_conflict_in_words() {
        let mut known = directory();
        let broken = KnownVersion {
            version: "1.14.1".to_string(),
            dependencies: {
                let mut deps = known[TECH_RADAR][4].dependencies.clone();
                deps.insert(TECH_RADAR_COMMON.to_string(), "workspace:^".to_string());
                deps
            },
            ..known[TECH_RADAR][4].clone()
        };
        known.get_mut(TECH_RADAR).expect("fixture").push(broken);
        let conflict = resolve(&known, &release("1.47.4"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR, "1.14.1")])
            .expect_err("the published range cannot be read");
        assert_eq!(
            conflict.explanation,
            [
                format!(
                    "{TECH_RADAR} 1.14.1 needs {TECH_RADAR_COMMON} \"workspace:^\" — the range cannot be read as an \
                     npm range"
                ),
                format!("You asked for {TECH_RADAR} 1.14.1"),
            ]
        );
        let solution = resolve(&known, &release("1.47.4"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR, "*")])
            .expect("the broken version is skipped");
        assert_eq!(solution.packages[TECH_RADAR], "1.14.0");

        let conflict = resolve(&known, &release("1.47.4"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR, "latest")])
            .expect_err("dist-tags are the caller's business");
        assert_eq!(
            conflict.explanation,
            [format!("The range \"latest\" requested for {TECH_RADAR} cannot be read as an npm range")]
        );
    }

    #[test]
    fn a_non_singleton_backstage_mismatch_is_only_a_warning() {
        let solution =
            resolve(&directory(), &release("1.42.0"), &releases(), &BTreeMap::new(), &[ask(TECH_RADAR_BACKEND, "*")])
                .expect("tech-radar-backend 1.12.0 runs on 1.42.0");
        assert_eq!(solution.packages, map(&[(TECH_RADAR_BACKEND, "1.12.0"), (TECH_RADAR_COMMON, "1.13.0")]));
        assert_eq!(
            solution.warnings,
            [format!(
                "{TECH_RADAR_BACKEND} 1.12.0 expects @backstage/config ^1.3.5 — your platform (Backstage 1.42.0) \
                 provides 1.3.3; this usually still works"
            )]
        );
    }

    #[test]
    fn backstage_packages_in_the_directory_still_follow_the_release() {
        let mut known = directory();
        known.insert(
            "@backstage/core-components".to_string(),
            ["0.17.5", "0.18.2", "0.18.12"].iter().map(|v| version(v, &[], &[])).collect(),
        );
        known.insert(CORE.to_string(), ["1.10.9", "1.11.1", "1.12.8"].iter().map(|v| version(v, &[], &[])).collect());
        let current = installed(&[("@backstage/core-components", "0.18.2")]);
        let solution =
            resolve(&known, &release("1.44.0"), &releases(), &current, &[ask(ARGO_CD, "2.12.5")]).expect("resolves");
        assert_eq!(solution.packages, map(&[(ARGO_CD, "2.12.5")]));

        let conflict = resolve(&known, &release("1.44.0"), &releases(), &current, &[ask(CORE, "^1.12.0")])
            .expect_err("the host decides core-plugin-api");
        assert_eq!(
            conflict.explanation,
            [format!("You asked for {CORE} ^1.12.0 — your platform (Backstage 1.44.0) provides 1.11.1")]
        );
    }

    #[test]
    fn an_unknown_package_is_reported() {
        let conflict = resolve(
            &directory(),
            &release("1.47.4"),
            &releases(),
            &BTreeMap::new(),
            &[ask(TECH_RADAR, "*"), ask("@acme/plugin-unheard-of", "^1.0.0")],
        )
        .expect_err("not in the directory");
        assert_eq!(conflict.explanation, ["@acme/plugin-unheard-of is not in the directory"]);
    }

    #[test]
    fn an_installed_package_outside_the_directory_is_a_warning() {
        let current = installed(&[("@internal/plugin-costs", "0.3.1")]);
        let solution = resolve(&directory(), &release("1.47.4"), &releases(), &current, &[ask(TECH_RADAR_COMMON, "*")])
            .expect("resolves");
        assert_eq!(solution.packages, map(&[(TECH_RADAR_COMMON, "1.13.0")]));
        assert_eq!(
            solution.warnings,
            ["@internal/plugin-costs 0.3.1 is installed but not in the directory, so its dependencies were not checked"]
        );
    }

    #[test]
    fn compatibility_per_release() {
        let known = directory();
        let argo = known[ARGO_CD].iter().find(|v| v.version == "2.12.5").expect("fixture");
        let ok = compatibility(argo, &release("1.44.2"));
        assert_eq!(ok, Compatibility { compatible: true, problems: Vec::new(), warnings: Vec::new() });

        let old = compatibility(argo, &release("1.42.0"));
        assert!(!old.compatible);
        assert_eq!(
            old.problems,
            [
                format!("This version needs {CORE} ^1.11.1 — Backstage 1.42.0 provides 1.10.9"),
                format!("This version needs {FRONTEND} ^0.12.1 — Backstage 1.42.0 provides 0.11.0"),
            ]
        );
        assert_eq!(old.warnings.len(), 3, "compat-api, components and catalog-react: {:?}", old.warnings);

        let newer = compatibility(argo, &release("1.45.0"));
        assert_eq!(
            newer.problems,
            [format!("This version needs {FRONTEND} ^0.12.1 — Backstage 1.45.0 provides 0.13.0")]
        );

        let backend = &known[TECH_RADAR_BACKEND][0];
        let warned = compatibility(backend, &release("1.42.0"));
        assert!(warned.compatible);
        assert_eq!(
            warned.warnings,
            ["This version expects @backstage/config ^1.3.5 — Backstage 1.42.0 provides 1.3.3; this usually still \
              works"]
        );

        let mut bare = release("1.44.0");
        bare.packages.remove(FRONTEND);
        let missing = compatibility(argo, &bare);
        assert_eq!(
            missing.problems,
            [format!("This version needs {FRONTEND} ^0.12.1 — Backstage 1.44.0 does not include it")]
        );
    }

    #[test]
    fn a_runaway_resolution_stops_with_an_explanation() {
        let current = installed(&[(TECH_RADAR_COMMON, "1.9.1"), (TECH_RADAR_BACKEND, "1.12.0")]);
        let conflict =
            resolve_within(3, &directory(), &release("1.42.0"), &releases(), &current, &[ask(ARGO_CD, "2.12.5")])
                .expect_err("three steps are not enough");
        assert_eq!(
            conflict.explanation,
            ["Finding a compatible set took more than 3 steps, so it was stopped; ask for fewer changes at once or \
              name exact versions"]
        );
        assert_eq!(conflict.suggestions[0], format!("Backstage 1.44.0 to 1.44.3 would run {ARGO_CD} 2.12.5"));
    }

    /// A small deterministic generator so the synthetic tenant is the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound as u64) as usize
        }
    }

    struct Tenant {
        known: Known,
        current: BTreeMap<String, String>,
        release: Release,
    }

    const NEW_PLUGIN: &str = "@acme/plugin-new";

    /// 200 installed plugins on 250 shared libraries (450 packages, 50 versions and about 13 declared
    /// dependencies each), plus one plugin to install whose newest versions need a newer host or newer
    /// libraries than the installed ones: the solver has to step back to 1.34.0 without moving anything.
    fn synthetic_tenant() -> Tenant {
        const PLUGINS: usize = 200;
        const PACKAGES: usize = 450;
        const VERSIONS: usize = 50;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let name = |i: usize| if i < PLUGINS { format!("@acme/plugin-{i:03}") } else { format!("@acme/lib-{i:03}") };
        let installed: Vec<usize> = (0..PACKAGES).map(|_| 20 + rng.below(26)).collect();
        let mut known = Known::new();
        let versions_of = |i: Option<usize>, rng: &mut Rng| {
            let first_lib = i.map_or(PLUGINS, |i| (i + 1).max(PLUGINS));
            let spread = PACKAGES - first_lib.min(PACKAGES);
            let targets: Vec<usize> = (0..9).filter(|_| spread > 0).map(|_| first_lib + rng.below(spread)).collect();
            let mut versions = Vec::new();
            for k in 0..VERSIONS {
                let mut deps = BTreeMap::new();
                for &t in &targets {
                    let floor = match i {
                        Some(i) if k == installed[i] => rng.below(installed[t] + 1),
                        Some(_) => rng.below(k + 1),
                        None if (35..45).contains(&k) => installed[t] + 1,
                        None => rng.below(installed[t] + 1),
                    };
                    deps.insert(name(t), format!("^1.{floor}.0"));
                }
                if i.is_none_or(|i| i < PLUGINS) {
                    let (host, minor) =
                        if i.is_some_and(|i| i % 2 == 1) { (BACKEND, 4 + k % 3) } else { (CORE, 10 + k % 3) };
                    let minor = if k > 45 || (i.is_none() && k >= 45) { minor + 7 } else { minor };
                    deps.insert(host.to_string(), format!("^1.{minor}.0"));
                    deps.insert("@backstage/core-components".to_string(), format!("^0.18.{}", k % 8));
                }
                deps.insert("lodash".to_string(), "^4.17.21".to_string());
                let peers = map(&[("react", "^17.0.0 || ^18.0.0")]);
                let deprecated = k % 17 == 3 && i.is_none_or(|i| installed[i] != k);
                versions.push(KnownVersion {
                    version: format!("1.{k}.0"),
                    dependencies: deps,
                    peer_dependencies: peers,
                    deprecated,
                });
            }
            versions.push(KnownVersion { version: "2.0.0-next.0".to_string(), ..versions[VERSIONS - 1].clone() });
            versions
        };
        for i in 0..PACKAGES {
            let versions = versions_of(Some(i), &mut rng);
            known.insert(name(i), versions);
        }
        let versions = versions_of(None, &mut rng);
        known.insert(NEW_PLUGIN.to_string(), versions);
        let current = (0..PACKAGES).map(|i| (name(i), format!("1.{}.0", installed[i]))).collect();
        Tenant { known, current, release: release("1.47.4") }
    }

    #[test]
    fn a_200_plugin_tenant_installs_one_more_without_moving_anything() {
        let tenant = synthetic_tenant();
        let solution = resolve(&tenant.known, &tenant.release, &releases(), &tenant.current, &[ask(NEW_PLUGIN, "*")])
            .expect("resolves");
        assert_eq!(solution.packages.len(), tenant.current.len() + 1);
        assert_eq!(solution.packages[NEW_PLUGIN], "1.34.0");
        for (name, version) in &tenant.current {
            assert_eq!(&solution.packages[name], version, "{name} must stay");
        }
        assert!(
            solution.warnings.iter().all(|w| w.contains("@backstage/core-components ^0.18.7")),
            "{:?}",
            solution.warnings
        );
    }

    #[test]
    #[ignore = "timing report: cargo test --release -- --ignored --nocapture"]
    fn time_the_200_plugin_tenant() {
        let tenant = synthetic_tenant();
        let requested = [ask(NEW_PLUGIN, "*")];
        for run in 1..=3 {
            let started = Instant::now();
            let solution =
                resolve(&tenant.known, &tenant.release, &releases(), &tenant.current, &requested).expect("resolves");
            println!("run {run}: resolved {} packages in {:?}", solution.packages.len(), started.elapsed());
        }
        // A downgrade of a widely used library forces many installed packages to move or fails.
        for range in ["1.0.0", "<1.10.0"] {
            let started = Instant::now();
            let outcome =
                resolve(&tenant.known, &tenant.release, &releases(), &tenant.current, &[ask("@acme/lib-449", range)]);
            let summary = match &outcome {
                Ok(solution) => format!("solved, {} warnings", solution.warnings.len()),
                Err(conflict) => format!("conflict: {:?}", conflict.explanation),
            };
            println!("lib-449 {range}: {summary} in {:?}", started.elapsed());
        }
    }
}
