//! The queries of the plugins area: the shared directory (control schema, bulk-written as JSON
//! record sets) and a tenant's platform, revisions, runtime health and update notices.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bytea, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{QueryResult, QueryableByName};
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use uuid::Uuid;

use super::directory::{Directory, PackageInfo, PluginInfo, VersionInfo};
use super::model::{
    ChangeRequest, InstalledPackage, Link, LoadState, LoadedPackage, Platform, Policy, RevisionSummary, RuntimeReport,
    SchemaAvailability,
};
use super::registry::Packument;
use super::seed::SeedDocument;
use super::solver::{KnownVersion, Release};
use crate::db::Connection;

#[derive(QueryableByName)]
struct DirectoryVersion {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Nullable<Text>)]
    seed_digest: Option<String>,
}

/// The directory's version (bumped by every change) and the digest of the seed last loaded.
pub async fn directory_version(conn: &mut Connection) -> QueryResult<(i64, Option<String>)> {
    let row: DirectoryVersion =
        diesel::sql_query("SELECT version, seed_digest FROM control.plugin_directory_version").get_result(conn).await?;
    Ok((row.version, row.seed_digest))
}

/// Marks the directory changed (servers reload it), and which seed it holds.
pub async fn bump(conn: &mut Connection, seed_digest: Option<&str>) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE control.plugin_directory_version SET version = version + 1, seed_digest = COALESCE($1, seed_digest)",
    )
    .bind::<Nullable<Text>, _>(seed_digest)
    .execute(conn)
    .await
    .map(drop)
}

/// Loads a seed document: plugins and releases become the seed's (those it no longer has go),
/// packages and versions are added (what the registry refresh learnt of a version is kept).
pub async fn load_seed(conn: &mut Connection, doc: &SeedDocument, digest: &str) -> QueryResult<()> {
    let ids: Vec<&str> = doc.plugins.iter().map(|p| p.id.as_str()).collect();
    // Tenants' private entries are theirs, not the seed's.
    diesel::sql_query("DELETE FROM control.plugins WHERE id <> ALL($1) AND owner_tenant IS NULL")
        .bind::<diesel::sql_types::Array<Text>, _>(&ids)
        .execute(conn)
        .await?;
    let versions: Vec<&str> = doc.releases.iter().map(|r| r.version.as_str()).collect();
    diesel::sql_query("DELETE FROM control.backstage_releases WHERE version <> ALL($1)")
        .bind::<diesel::sql_types::Array<Text>, _>(&versions)
        .execute(conn)
        .await?;
    let releases: Vec<Value> = doc
        .releases
        .iter()
        .map(|r| json!({"version": r.version, "released_at": r.date, "packages": r.packages}))
        .collect();
    diesel::sql_query(
        "INSERT INTO control.backstage_releases (version, released_at, packages) \
         SELECT version, released_at, packages FROM jsonb_to_recordset($1) AS r(version TEXT, released_at TIMESTAMPTZ, packages JSONB) \
         ON CONFLICT (version) DO UPDATE SET released_at = EXCLUDED.released_at, packages = EXCLUDED.packages",
    )
    .bind::<Jsonb, _>(Value::Array(releases))
    .execute(conn)
    .await?;

    let packages: Vec<Value> = doc
        .packages
        .iter()
        .map(|p| json!({"name": p.name, "role": p.role, "config_example": p.config_example}))
        .collect();
    diesel::sql_query(
        "INSERT INTO control.plugin_packages (name, role, config_example) \
         SELECT name, role, config_example FROM jsonb_to_recordset($1) AS p(name TEXT, role TEXT, config_example JSONB) \
         ON CONFLICT (name) DO UPDATE SET role = COALESCE(EXCLUDED.role, plugin_packages.role), \
         config_example = COALESCE(EXCLUDED.config_example, plugin_packages.config_example)",
    )
    .bind::<Jsonb, _>(Value::Array(packages))
    .execute(conn)
    .await?;

    let versions: Vec<Value> = doc
        .packages
        .iter()
        .flat_map(|p| {
            p.versions.iter().map(move |v| {
                json!({"package": p.name, "version": v.version, "dependencies": v.dependencies,
                       "peer_dependencies": v.peer_dependencies, "backstage": v.backstage,
                       "supported_backstage": v.supported_backstage, "artifact": v.artifact})
            })
        })
        .collect();
    diesel::sql_query(
        "INSERT INTO control.plugin_package_versions \
             (package, version, dependencies, peer_dependencies, backstage, supported_backstage, artifact) \
         SELECT package, version, dependencies, peer_dependencies, backstage, supported_backstage, artifact \
         FROM jsonb_to_recordset($1) AS v(package TEXT, version TEXT, dependencies JSONB, peer_dependencies JSONB, \
                                          backstage JSONB, supported_backstage TEXT, artifact TEXT) \
         ON CONFLICT (package, version) DO UPDATE SET supported_backstage = EXCLUDED.supported_backstage, \
             artifact = EXCLUDED.artifact",
    )
    .bind::<Jsonb, _>(Value::Array(versions))
    .execute(conn)
    .await?;

    let mut collections: HashMap<&str, Vec<&str>> = HashMap::new();
    for c in &doc.collections {
        for p in &c.plugins {
            collections.entry(p.as_str()).or_default().push(c.id.as_str());
        }
    }
    let plugins: Vec<Value> = doc
        .plugins
        .iter()
        .map(|p| {
            json!({"id": p.id, "title": p.title, "summary": p.summary, "docs": p.docs, "categories": p.categories,
                   "highlights": p.highlights, "tags": p.tags.clone().unwrap_or_default(), "author": p.author,
                   "support": p.support, "links": p.links, "packages": p.packages,
                   "collections": collections.get(p.id.as_str()).cloned().unwrap_or_default(),
                   "added_on": p.added, "source": p.source})
        })
        .collect();
    diesel::sql_query(
        "INSERT INTO control.plugins (id, title, summary, docs, categories, highlights, tags, author, support, links, \
                                      packages, collections, added_on, source) \
         SELECT id, title, summary, docs, categories, highlights, tags, author, support, links, packages, collections, \
                added_on, source \
         FROM jsonb_to_recordset($1) AS p(id TEXT, title TEXT, summary TEXT, docs TEXT, categories TEXT[], \
              highlights TEXT[], tags TEXT[], author TEXT, support TEXT, links JSONB, packages TEXT[], \
              collections TEXT[], added_on DATE, source TEXT) \
         ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, summary = EXCLUDED.summary, docs = EXCLUDED.docs, \
             categories = EXCLUDED.categories, highlights = EXCLUDED.highlights, tags = EXCLUDED.tags, \
             author = EXCLUDED.author, support = EXCLUDED.support, links = EXCLUDED.links, \
             packages = EXCLUDED.packages, collections = EXCLUDED.collections, added_on = EXCLUDED.added_on, \
             source = EXCLUDED.source",
    )
    .bind::<Jsonb, _>(Value::Array(plugins))
    .execute(conn)
    .await?;
    bump(conn, Some(digest)).await
}

/// Every package of the directory, for the registry refresh.
pub async fn package_names(conn: &mut Connection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Name> =
        diesel::sql_query("SELECT name FROM control.plugin_packages ORDER BY name").load(conn).await?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Stores what the registry published of `name`: every version (upserted) and its tags. The
/// caller bumps the directory's version when its refresh is done.
pub async fn store_packument(conn: &mut Connection, name: &str, packument: &Packument) -> QueryResult<()> {
    let role = packument.versions.iter().rev().find_map(|v| v.backstage.as_ref()?.get("role")?.as_str());
    diesel::sql_query(
        "UPDATE control.plugin_packages SET latest = $2, role = COALESCE($3, role), refreshed_at = now(), \
         refresh_error = NULL WHERE name = $1",
    )
    .bind::<Text, _>(name)
    .bind::<Nullable<Text>, _>(packument.latest.as_deref())
    .bind::<Nullable<Text>, _>(role)
    .execute(conn)
    .await?;
    let versions: Vec<Value> = packument.versions.iter().map(|v| json!(v)).collect();
    diesel::sql_query(
        "INSERT INTO control.plugin_package_versions (package, version, published_at, deprecated, dependencies, \
             peer_dependencies, backstage, config_schema_kind, config_schema, integrity, tarball) \
         SELECT $1, version, published_at, deprecated, dependencies, peer_dependencies, backstage, config_schema_kind, \
             config_schema, integrity, tarball \
         FROM jsonb_to_recordset($2) AS v(version TEXT, published_at TIMESTAMPTZ, deprecated TEXT, dependencies JSONB, \
             peer_dependencies JSONB, backstage JSONB, config_schema_kind TEXT, config_schema JSONB, integrity TEXT, \
             tarball TEXT) \
         ON CONFLICT (package, version) DO UPDATE SET published_at = EXCLUDED.published_at, \
             deprecated = EXCLUDED.deprecated, dependencies = EXCLUDED.dependencies, \
             peer_dependencies = EXCLUDED.peer_dependencies, backstage = EXCLUDED.backstage, \
             config_schema_kind = EXCLUDED.config_schema_kind, config_schema = EXCLUDED.config_schema, \
             integrity = EXCLUDED.integrity, tarball = EXCLUDED.tarball",
    )
    .bind::<Text, _>(name)
    .bind::<Jsonb, _>(Value::Array(versions))
    .execute(conn)
    .await
    .map(drop)
}

/// Adds packages the directory did not list yet (a plugin's own libraries).
/// Adds the packages `by` names as its plugin's (`backstage.pluginPackages`); they belong to
/// whoever `by` belongs to (the public directory, or a tenant's private entry).
pub async fn add_sibling_packages(conn: &mut Connection, names: &[String], by: &str) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO control.plugin_packages (name, owner_tenant) \
         SELECT unnest($1::text[]), (SELECT owner_tenant FROM control.plugin_packages WHERE name = $2) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(names)
    .bind::<Text, _>(by)
    .execute(conn)
    .await
    .map(drop)
}

/// Adds a tenant's private packages (those it holds already stay as they are).
pub async fn add_owned_packages(conn: &mut Connection, names: &[String], owner: i64) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO control.plugin_packages (name, owner_tenant) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(names)
    .bind::<BigInt, _>(owner)
    .execute(conn)
    .await
    .map(drop)
}

/// Which of `names` the directory holds already, and whose each is (`None`: public).
pub async fn package_owners(conn: &mut Connection, names: &[String]) -> QueryResult<Vec<(String, Option<i64>)>> {
    #[derive(QueryableByName)]
    struct Owner {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Nullable<BigInt>)]
        owner_tenant: Option<i64>,
    }
    let rows: Vec<Owner> =
        diesel::sql_query("SELECT name, owner_tenant FROM control.plugin_packages WHERE name = ANY($1) FOR UPDATE")
            .bind::<Array<Text>, _>(names)
            .load(conn)
            .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.owner_tenant)).collect())
}

/// Holds `owner`'s private entries until the transaction ends: its additions are made one at
/// a time.
pub async fn lock_private_entries(conn: &mut Connection, owner: i64) -> QueryResult<()> {
    // The first key says "private plugin entries"; the second is the tenant.
    diesel::sql_query("SELECT pg_advisory_xact_lock(20261206, $1::int)")
        .bind::<BigInt, _>(owner)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn private_plugin_count(conn: &mut Connection, owner: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query("SELECT count(*) AS n FROM control.plugins WHERE owner_tenant = $1")
        .bind::<BigInt, _>(owner)
        .get_result(conn)
        .await?;
    Ok(count.n)
}

/// Remembers why a package could not be refreshed (shown to operators; the old data stays).
pub async fn refresh_failed(conn: &mut Connection, name: &str, error: &str) -> QueryResult<()> {
    diesel::sql_query("UPDATE control.plugin_packages SET refresh_error = $2 WHERE name = $1")
        .bind::<Text, _>(name)
        .bind::<Text, _>(error)
        .execute(conn)
        .await
        .map(drop)
}

#[derive(QueryableByName)]
struct ReleaseRow {
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Jsonb)]
    packages: Value,
}

#[derive(QueryableByName)]
struct PluginRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    summary: String,
    #[diesel(sql_type = Text)]
    docs: String,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    categories: Vec<String>,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    highlights: Vec<String>,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    tags: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    author: Option<String>,
    #[diesel(sql_type = Text)]
    support: String,
    #[diesel(sql_type = Jsonb)]
    links: Value,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    packages: Vec<String>,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    collections: Vec<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    owner_tenant: Option<i64>,
}

#[derive(QueryableByName)]
struct PackageRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    latest: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    config_example: Option<Value>,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    package: String,
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    published_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    deprecated: Option<String>,
    #[diesel(sql_type = Jsonb)]
    dependencies: Value,
    #[diesel(sql_type = Jsonb)]
    peer_dependencies: Value,
    #[diesel(sql_type = Nullable<Jsonb>)]
    backstage: Option<Value>,
    #[diesel(sql_type = Nullable<Text>)]
    config_schema_kind: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    config_schema: Option<Value>,
    #[diesel(sql_type = Nullable<Text>)]
    supported_backstage: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    integrity: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    tarball: Option<String>,
}

fn string_map(value: Value) -> BTreeMap<String, String> {
    serde_json::from_value(value).unwrap_or_default()
}

/// Reads the whole directory at `version`.
pub async fn load_directory(conn: &mut Connection, version: i64) -> QueryResult<Directory> {
    let releases: Vec<ReleaseRow> =
        diesel::sql_query("SELECT version, packages FROM control.backstage_releases").load(conn).await?;
    let mut releases: Vec<(nodejs_semver::Version, Release)> = releases
        .into_iter()
        .filter_map(|r| {
            let parsed = nodejs_semver::Version::parse(&r.version).ok()?;
            Some((parsed, Release { version: r.version, packages: string_map(r.packages) }))
        })
        .collect();
    releases.sort_by(|a, b| a.0.cmp(&b.0));

    let plugins: Vec<PluginRow> = diesel::sql_query(
        "SELECT id, title, summary, docs, categories, highlights, tags, author, support, links, packages, collections, \
         owner_tenant FROM control.plugins ORDER BY lower(title), id",
    )
    .load(conn)
    .await?;
    let packages: Vec<PackageRow> =
        diesel::sql_query("SELECT name, role, latest, config_example FROM control.plugin_packages").load(conn).await?;
    let versions: Vec<VersionRow> = diesel::sql_query(
        "SELECT package, version, published_at, deprecated, dependencies, peer_dependencies, backstage, \
         config_schema_kind, config_schema, supported_backstage, integrity, tarball FROM control.plugin_package_versions",
    )
    .load(conn)
    .await?;

    let mut by_package: HashMap<String, Vec<VersionInfo>> = HashMap::new();
    for v in versions {
        let Ok(parsed) = nodejs_semver::Version::parse(&v.version) else { continue };
        let schema = match v.config_schema_kind.as_deref() {
            // A `.json` file is read from the verified tarball.
            Some("inline" | "file") => SchemaAvailability::Available,
            Some(_) => SchemaAvailability::Unavailable,
            None => SchemaAvailability::None,
        };
        by_package.entry(v.package).or_default().push(VersionInfo {
            known: KnownVersion {
                version: v.version,
                dependencies: string_map(v.dependencies),
                peer_dependencies: string_map(v.peer_dependencies),
                deprecated: v.deprecated.is_some(),
            },
            parsed,
            published_at: v.published_at,
            backstage: v.backstage,
            schema,
            config_schema: v.config_schema,
            supported_backstage: v.supported_backstage,
            integrity: v.integrity,
            tarball: v.tarball,
        });
    }
    let packages = packages
        .into_iter()
        .map(|p| {
            let mut versions = by_package.remove(&p.name).unwrap_or_default();
            versions.sort_by(|a, b| a.parsed.cmp(&b.parsed));
            PackageInfo { name: p.name, role: p.role, latest: p.latest, config_example: p.config_example, versions }
        })
        .collect();
    let plugins = plugins
        .into_iter()
        .map(|p| {
            let haystack = [
                p.title.as_str(),
                p.summary.as_str(),
                p.id.as_str(),
                &p.packages.join(" "),
                &p.categories.join(" "),
                &p.tags.join(" "),
                p.author.as_deref().unwrap_or_default(),
            ]
            .join(" ")
            .to_lowercase();
            PluginInfo {
                owner: p.owner_tenant,
                links: serde_json::from_value::<Vec<Link>>(p.links)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|l| super::docs::safe_url(&l.url))
                    .collect(),
                id: p.id,
                title: p.title,
                summary: p.summary,
                docs: p.docs,
                categories: p.categories,
                highlights: p.highlights,
                tags: p.tags,
                author: p.author,
                support: p.support,
                packages: p.packages,
                collections: p.collections,
                haystack,
            }
        })
        .collect();
    Ok(Directory::new(version, plugins, packages, releases.into_iter().map(|(_, r)| r).collect()))
}

#[derive(QueryableByName)]
struct PlatformRow {
    #[diesel(sql_type = Text)]
    runtime: String,
    #[diesel(sql_type = Text)]
    release: String,
    #[diesel(sql_type = Integer)]
    current_revision: i32,
    #[diesel(sql_type = Jsonb)]
    policy: serde_json::Value,
}

impl From<PlatformRow> for Platform {
    fn from(r: PlatformRow) -> Self {
        // Written only by `set_policy` from a checked `Policy`; an unreadable one restricts nothing.
        let policy = serde_json::from_value(r.policy).unwrap_or_default();
        Platform { runtime: r.runtime, release: r.release, current_revision: r.current_revision, policy }
    }
}

pub async fn platform(conn: &mut Connection) -> QueryResult<Option<Platform>> {
    let rows: Vec<PlatformRow> =
        diesel::sql_query("SELECT runtime, release, current_revision, policy FROM plugin_platform").load(conn).await?;
    Ok(rows.into_iter().next().map(Platform::from))
}

/// The platform row, created with `default` when missing, locked until the transaction ends:
/// changes to the plugin set are made one after another, each on top of the one before.
pub async fn lock_platform(conn: &mut Connection, default: &Platform) -> QueryResult<Platform> {
    diesel::sql_query("INSERT INTO plugin_platform (runtime, release) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind::<Text, _>(&default.runtime)
        .bind::<Text, _>(&default.release)
        .execute(conn)
        .await?;
    let row: PlatformRow =
        diesel::sql_query("SELECT runtime, release, current_revision, policy FROM plugin_platform FOR UPDATE")
            .get_result(conn)
            .await?;
    Ok(row.into())
}

pub async fn set_platform(conn: &mut Connection, runtime: &str, release: &str) -> QueryResult<()> {
    diesel::sql_query("UPDATE plugin_platform SET runtime = $1, release = $2, updated_at = now()")
        .bind::<Text, _>(runtime)
        .bind::<Text, _>(release)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn set_policy(conn: &mut Connection, policy: &Policy) -> QueryResult<()> {
    diesel::sql_query("UPDATE plugin_platform SET policy = $1, updated_at = now()")
        .bind::<Jsonb, _>(json!(policy))
        .execute(conn)
        .await
        .map(drop)
}

/// Keeps the control plane's record of which directory plugins `tenant` runs (enabled ones;
/// `control.plugin_installs`, read only as aggregates of at least five tenants), in the same
/// transaction as the revision that changed them.
pub async fn note_installed_plugins(conn: &mut Connection, tenant: i64, set: &[InstalledPackage]) -> QueryResult<()> {
    let plugins: BTreeSet<&str> = set.iter().filter(|p| !p.disabled).filter_map(|p| p.plugin.as_deref()).collect();
    let plugins: Vec<&str> = plugins.into_iter().collect();
    diesel::sql_query("DELETE FROM control.plugin_installs WHERE tenant_id = $2 AND plugin <> ALL($1)")
        .bind::<Array<Text>, _>(&plugins)
        .bind::<BigInt, _>(tenant)
        .execute(conn)
        .await?;
    diesel::sql_query(
        "INSERT INTO control.plugin_installs (tenant_id, plugin) SELECT $2, unnest($1::text[]) ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(&plugins)
    .bind::<BigInt, _>(tenant)
    .execute(conn)
    .await
    .map(drop)
}

pub struct NewRevision<'a> {
    pub number: i32,
    pub author_id: Option<Uuid>,
    pub author: &'a str,
    pub operation: &'a str,
    pub reason: &'a str,
    pub platform: &'a Platform,
    pub restores: Option<i32>,
    pub packages: &'a [InstalledPackage],
}

/// Writes a revision and makes it current.
pub async fn insert_revision(conn: &mut Connection, revision: NewRevision<'_>) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO plugin_revisions (number, author_id, author, operation, reason, runtime, release, restores, packages) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind::<Integer, _>(revision.number)
    .bind::<Nullable<SqlUuid>, _>(revision.author_id)
    .bind::<Text, _>(revision.author)
    .bind::<Text, _>(revision.operation)
    .bind::<Text, _>(revision.reason)
    .bind::<Text, _>(&revision.platform.runtime)
    .bind::<Text, _>(&revision.platform.release)
    .bind::<Nullable<Integer>, _>(revision.restores)
    .bind::<Jsonb, _>(json!(revision.packages))
    .execute(conn)
    .await?;
    diesel::sql_query("UPDATE plugin_platform SET current_revision = $1, updated_at = now()")
        .bind::<Integer, _>(revision.number)
        .execute(conn)
        .await
        .map(drop)
}

/// The current revision's number and packages (0 and none before the tenant's first change).
pub async fn current_packages(conn: &mut Connection) -> QueryResult<(i32, Vec<InstalledPackage>)> {
    match platform(conn).await? {
        Some(p) => Ok((p.current_revision, revision_packages(conn, p.current_revision).await?.unwrap_or_default())),
        None => Ok((0, Vec::new())),
    }
}

/// The packages of revision `number` (revision 0 is the empty set before any change).
pub async fn revision_packages(conn: &mut Connection, number: i32) -> QueryResult<Option<Vec<InstalledPackage>>> {
    if number == 0 {
        return Ok(Some(Vec::new()));
    }
    #[derive(QueryableByName)]
    struct Packages {
        #[diesel(sql_type = Jsonb)]
        packages: Value,
    }
    let rows: Vec<Packages> = diesel::sql_query("SELECT packages FROM plugin_revisions WHERE number = $1")
        .bind::<Integer, _>(number)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next().map(|r| serde_json::from_value(r.packages).unwrap_or_default()))
}

#[derive(QueryableByName)]
struct RevisionRow {
    #[diesel(sql_type = Integer)]
    number: i32,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    author: String,
    #[diesel(sql_type = Text)]
    operation: String,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Text)]
    release: String,
    #[diesel(sql_type = Nullable<Integer>)]
    restores: Option<i32>,
    #[diesel(sql_type = Integer)]
    packages: i32,
}

/// The newest `limit` revisions.
pub async fn history(conn: &mut Connection, limit: i64) -> QueryResult<Vec<RevisionSummary>> {
    let rows: Vec<RevisionRow> = diesel::sql_query(
        "SELECT number, created_at, author, operation, reason, release, restores, \
         jsonb_array_length(packages) AS packages FROM plugin_revisions ORDER BY number DESC LIMIT $1",
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RevisionSummary {
            number: r.number,
            created_at: r.created_at,
            author: r.author,
            operation: r.operation,
            reason: r.reason,
            release: r.release,
            restores: r.restores,
            packages: r.packages as usize,
        })
        .collect())
}

#[derive(QueryableByName)]
struct HealthRow {
    #[diesel(sql_type = Text)]
    instance: String,
    #[diesel(sql_type = Text)]
    package: String,
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<Text>)]
    error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    reported_at: DateTime<Utc>,
}

/// How long a runtime that stopped reporting is still counted.
const RUNTIME_SILENCE: &str = "1 day";

/// What every runtime heard from within the last day reported, as (package, report).
pub async fn health_reports(conn: &mut Connection) -> QueryResult<Vec<(String, RuntimeReport)>> {
    let rows: Vec<HealthRow> = diesel::sql_query(format!(
        "SELECT instance, package, version, state, error, reported_at FROM plugin_health \
         WHERE reported_at > now() - interval '{RUNTIME_SILENCE}' ORDER BY instance, package"
    ))
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let state = if r.state == "failed" { LoadState::Failed } else { LoadState::Loaded };
            (
                r.package,
                RuntimeReport {
                    instance: r.instance,
                    version: r.version,
                    state,
                    error: r.error,
                    reported_at: r.reported_at,
                },
            )
        })
        .collect())
}

/// The runtimes heard from within the last day, other than `instance`.
pub async fn other_runtimes(conn: &mut Connection, instance: &str) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let row: Count = diesel::sql_query(format!(
        "SELECT count(DISTINCT instance) AS n FROM plugin_health \
         WHERE instance <> $1 AND reported_at > now() - interval '{RUNTIME_SILENCE}'"
    ))
    .bind::<Text, _>(instance)
    .get_result(conn)
    .await?;
    Ok(row.n)
}

/// Replaces what `instance` reported with `packages`, and forgets runtimes silent for a day.
/// Returns what it reported before (package → (version, state, error)), to tell a change from
/// a heartbeat.
pub async fn replace_health(
    conn: &mut Connection,
    instance: &str,
    packages: &[LoadedPackage],
) -> QueryResult<BTreeMap<String, (String, LoadState, Option<String>)>> {
    // Two reports of one runtime at once: one after the other, not a duplicate-key error.
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('plugin_health:' || $1))::text AS locked")
        .bind::<Text, _>(instance)
        .execute(conn)
        .await?;
    diesel::sql_query(format!("DELETE FROM plugin_health WHERE reported_at <= now() - interval '{RUNTIME_SILENCE}'"))
        .execute(conn)
        .await?;
    let before: Vec<HealthRow> = diesel::sql_query(
        "DELETE FROM plugin_health WHERE instance = $1 \
         RETURNING instance, package, version, state, error, reported_at",
    )
    .bind::<Text, _>(instance)
    .load(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO plugin_health (instance, package, version, state, error, reported_at) \
         SELECT $1, r.package, r.version, r.state, r.error, now() \
         FROM jsonb_to_recordset($2) AS r(package text, version text, state text, error text)",
    )
    .bind::<Text, _>(instance)
    .bind::<Jsonb, _>(json!(packages))
    .execute(conn)
    .await?;
    Ok(before
        .into_iter()
        .map(|r| {
            let state = if r.state == "failed" { LoadState::Failed } else { LoadState::Loaded };
            (r.package, (r.version, state, r.error))
        })
        .collect())
}

/// The version each package was last announced as an update at.
pub async fn update_notices(conn: &mut Connection) -> QueryResult<HashMap<String, String>> {
    #[derive(QueryableByName)]
    struct Notice {
        #[diesel(sql_type = Text)]
        package: String,
        #[diesel(sql_type = Text)]
        version: String,
    }
    let rows: Vec<Notice> = diesel::sql_query("SELECT package, version FROM plugin_update_notices").load(conn).await?;
    Ok(rows.into_iter().map(|n| (n.package, n.version)).collect())
}

/// Remembers that `updates` (package → version) were announced.
pub async fn note_updates(conn: &mut Connection, updates: &BTreeMap<String, String>) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO plugin_update_notices (package, version) SELECT key, value FROM jsonb_each_text($1) \
         ON CONFLICT (package) DO UPDATE SET version = EXCLUDED.version, noticed_at = now()",
    )
    .bind::<Jsonb, _>(json!(updates))
    .execute(conn)
    .await
    .map(drop)
}

/// Which of `integrities` have a verified tarball stored.
pub async fn stored_artifacts(conn: &mut Connection, integrities: &[String]) -> QueryResult<HashSet<String>> {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        integrity: String,
    }
    let rows: Vec<Stored> =
        diesel::sql_query("SELECT integrity FROM control.plugin_artifacts WHERE integrity = ANY($1)")
            .bind::<Array<Text>, _>(integrities)
            .load(conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.integrity).collect())
}

/// Stores a verified tarball under its integrity (once: the same bytes are the same artifact).
pub async fn store_artifact(
    conn: &mut Connection,
    integrity: &str,
    package: &str,
    version: &str,
    bytes: &[u8],
    files: usize,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO control.plugin_artifacts (integrity, package, version, bytes, files) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (integrity) DO NOTHING",
    )
    .bind::<Text, _>(integrity)
    .bind::<Text, _>(package)
    .bind::<Text, _>(version)
    .bind::<Bytea, _>(bytes)
    .bind::<Integer, _>(files as i32)
    .execute(conn)
    .await
    .map(drop)
}

/// The stored tarball with `integrity`.
pub async fn artifact(conn: &mut Connection, integrity: &str) -> QueryResult<Option<Vec<u8>>> {
    #[derive(QueryableByName)]
    struct Artifact {
        #[diesel(sql_type = Bytea)]
        bytes: Vec<u8>,
    }
    let rows: Vec<Artifact> = diesel::sql_query("SELECT bytes FROM control.plugin_artifacts WHERE integrity = $1")
        .bind::<Text, _>(integrity)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next().map(|a| a.bytes))
}

#[derive(QueryableByName)]
struct RequestRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    requested_by: Uuid,
    #[diesel(sql_type = Text)]
    requester: String,
    #[diesel(sql_type = Jsonb)]
    operation: Value,
    #[diesel(sql_type = Text)]
    summary: String,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<Text>)]
    decider: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    decided_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    note: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    revision: Option<i32>,
}

/// A change request and who filed it.
pub struct StoredRequest {
    pub request: ChangeRequest,
    pub requested_by: Uuid,
}

impl From<RequestRow> for StoredRequest {
    fn from(r: RequestRow) -> Self {
        StoredRequest {
            requested_by: r.requested_by,
            request: ChangeRequest {
                id: r.id,
                created_at: r.created_at,
                requester: r.requester,
                operation: r.operation,
                summary: r.summary,
                reason: r.reason,
                state: r.state,
                decider: r.decider,
                decided_at: r.decided_at,
                note: r.note,
                revision: r.revision,
            },
        }
    }
}

const REQUEST_COLUMNS: &str =
    "id, created_at, requested_by, requester, operation, summary, reason, state, decider, decided_at, note, revision";

pub struct NewRequest<'a> {
    pub id: Uuid,
    pub requested_by: Uuid,
    pub requester: &'a str,
    pub operation: &'a Value,
    pub summary: &'a str,
    pub reason: &'a str,
}

pub async fn insert_request(conn: &mut Connection, new: NewRequest<'_>) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO plugin_change_requests (id, requested_by, requester, operation, summary, reason) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind::<SqlUuid, _>(new.id)
    .bind::<SqlUuid, _>(new.requested_by)
    .bind::<Text, _>(new.requester)
    .bind::<Jsonb, _>(new.operation)
    .bind::<Text, _>(new.summary)
    .bind::<Text, _>(new.reason)
    .execute(conn)
    .await
    .map(drop)
}

/// Pending requests first (oldest first: the queue), then decided ones, newest first; only
/// `requested_by`'s when given.
pub async fn requests(
    conn: &mut Connection,
    limit: i64,
    requested_by: Option<Uuid>,
) -> QueryResult<Vec<ChangeRequest>> {
    let rows: Vec<RequestRow> = diesel::sql_query(format!(
        "SELECT {REQUEST_COLUMNS} FROM plugin_change_requests WHERE $2::uuid IS NULL OR requested_by = $2 \
         ORDER BY state <> 'pending', CASE WHEN state = 'pending' THEN created_at END, created_at DESC LIMIT $1"
    ))
    .bind::<BigInt, _>(limit)
    .bind::<Nullable<SqlUuid>, _>(requested_by)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| StoredRequest::from(r).request).collect())
}

/// One request, locked until the transaction ends (an approval and a rejection of the same
/// request are decided one after the other).
pub async fn lock_request(conn: &mut Connection, id: Uuid) -> QueryResult<Option<StoredRequest>> {
    let rows: Vec<RequestRow> =
        diesel::sql_query(format!("SELECT {REQUEST_COLUMNS} FROM plugin_change_requests WHERE id = $1 FOR UPDATE"))
            .bind::<SqlUuid, _>(id)
            .load(conn)
            .await?;
    Ok(rows.into_iter().next().map(StoredRequest::from))
}

pub struct Decision<'a> {
    pub id: Uuid,
    pub state: &'a str,
    pub decided_by: Uuid,
    pub decider: &'a str,
    pub note: Option<&'a str>,
    pub revision: Option<i32>,
}

pub async fn decide_request(conn: &mut Connection, decision: Decision<'_>) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE plugin_change_requests SET state = $2, decided_by = $3, decider = $4, decided_at = now(), \
         note = $5, revision = $6 WHERE id = $1",
    )
    .bind::<SqlUuid, _>(decision.id)
    .bind::<Text, _>(decision.state)
    .bind::<SqlUuid, _>(decision.decided_by)
    .bind::<Text, _>(decision.decider)
    .bind::<Nullable<Text>, _>(decision.note)
    .bind::<Nullable<Integer>, _>(decision.revision)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn pending_requests(conn: &mut Connection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query("SELECT count(*) AS n FROM plugin_change_requests WHERE state = 'pending'")
        .get_result(conn)
        .await?;
    Ok(count.n)
}

/// A tenant's own directory entry (`support` 'private', seen only by that tenant).
pub struct NewPrivatePlugin<'a> {
    pub id: &'a str,
    pub owner: i64,
    pub title: &'a str,
    pub summary: &'a str,
    pub category: Option<&'a str>,
    pub packages: &'a [String],
}

/// Adds a private entry; `false` when the tenant already has one with this id.
pub async fn insert_private_plugin(conn: &mut Connection, new: NewPrivatePlugin<'_>) -> QueryResult<bool> {
    let categories: Vec<&str> = new.category.into_iter().collect();
    let inserted = diesel::sql_query(
        "INSERT INTO control.plugins (id, title, summary, categories, support, packages, source, owner_tenant, added_on) \
         VALUES ($1, $2, $3, $4, 'private', $5, 'tenant', $6, current_date) ON CONFLICT (id) DO NOTHING",
    )
    .bind::<Text, _>(new.id)
    .bind::<Text, _>(new.title)
    .bind::<Text, _>(new.summary)
    .bind::<Array<Text>, _>(&categories)
    .bind::<Array<Text>, _>(new.packages)
    .bind::<BigInt, _>(new.owner)
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

/// Removes a tenant's private entry; `false` when it has none with this id.
pub async fn delete_private_plugin(conn: &mut Connection, id: &str, owner: i64) -> QueryResult<bool> {
    let deleted = diesel::sql_query("DELETE FROM control.plugins WHERE id = $1 AND owner_tenant = $2")
        .bind::<Text, _>(id)
        .bind::<BigInt, _>(owner)
        .execute(conn)
        .await?;
    Ok(deleted == 1)
}
