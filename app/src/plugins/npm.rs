//! The tenant's npm registry (`/api/plugins/npm/`): packuments and tarballs of exactly the
//! packages of the current revision, and only those whose tarball passed its checks
//! (`artifacts`). A runtime's `npm pack` or `npm install` with an `.npmrc` naming this endpoint
//! and a `plugins:read` key gets the bytes Beacon verified, without reaching the internet.

use serde_json::{json, Map, Value};

use super::artifacts;
use super::model::InstalledPackage;
use super::repo;
use super::service::Plugins;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::tenancy::model::Tenant;

/// What the endpoint answers for a path.
pub enum NpmAnswer {
    Packument(Value),
    Tarball(Vec<u8>),
}

/// Answers `path` (after `/api/plugins/npm/`): `<name>` or `@scope%2fname` for a packument,
/// `<name>/-/<file>.tgz` for a tarball. `base` is this endpoint's absolute URL, for the
/// tarball links npm follows.
pub async fn answer(db: &Database, plugins: &Plugins, tenant: &Tenant, path: &str, base: &str) -> AppResult<NpmAnswer> {
    // axum has already decoded the path: `@scope%2fname` arrives as `@scope/name`.
    let (name, file) = match path.split_once("/-/") {
        Some((name, file)) => (name.to_owned(), Some(file.to_owned())),
        None => (path.to_owned(), None),
    };
    let (plugins, base) = (plugins.clone(), base.trim_end_matches('/').to_owned());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let missing = || AppError::not_found(format!("{name} is not in this organisation's current plugin set."));
            let (_, current) = repo::current_packages(conn).await?;
            let Some(package) = current.into_iter().find(|p| p.package == name) else { return Err(missing()) };
            let Some(integrity) = package.integrity.clone() else { return Err(missing()) };
            if let Some(file) = file {
                if file != artifacts::tarball_file(&package.package, &package.version) {
                    return Err(missing());
                }
                return repo::artifact(conn, &integrity).await?.map(NpmAnswer::Tarball).ok_or_else(missing);
            }
            if repo::stored_artifacts(conn, std::slice::from_ref(&integrity)).await?.is_empty() {
                return Err(missing());
            }
            let directory = plugins.directory(conn).await?;
            let known = directory.packages.get(&package.package).and_then(|p| p.version(&package.version));
            let (dependencies, peers) = known.map_or((Default::default(), Default::default()), |v| {
                (v.known.dependencies.clone(), v.known.peer_dependencies.clone())
            });
            Ok(NpmAnswer::Packument(packument(&package, &integrity, dependencies, peers, &base)))
        })
    })
    .await
}

fn packument(
    package: &InstalledPackage,
    integrity: &str,
    dependencies: std::collections::BTreeMap<String, String>,
    peers: std::collections::BTreeMap<String, String>,
    base: &str,
) -> Value {
    let (name, version) = (&package.package, &package.version);
    let tarball = format!("{base}/{name}/-/{}", artifacts::tarball_file(name, version));
    let mut versions = Map::new();
    versions.insert(
        version.clone(),
        json!({
            "name": name, "version": version,
            "dependencies": dependencies, "peerDependencies": peers,
            "dist": { "integrity": integrity, "tarball": tarball },
        }),
    );
    json!({ "name": name, "dist-tags": { "latest": version }, "versions": versions })
}
