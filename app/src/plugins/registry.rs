//! Reading the npm registry: a package's packument (`GET /<name>`, scoped names as
//! `@scope%2fname`) turned into the versions the directory keeps. Real registries and mirrors
//! omit fields, serve only some versions, write times with UTC offsets and tag as `latest` a
//! version that need not be the highest: everything here is optional but the version itself.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::fetch::{self, FetchPolicy, HostAllowlist};

/// The largest packument read. Long-lived packages publish hundreds of versions; the biggest
/// Backstage packuments are a few megabytes.
pub const MAX_PACKUMENT_BYTES: usize = 32 * 1024 * 1024;

/// One version as the directory stores it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PublishedVersion {
    pub version: String,
    pub published_at: Option<DateTime<Utc>>,
    pub deprecated: Option<String>,
    pub dependencies: BTreeMap<String, String>,
    pub peer_dependencies: BTreeMap<String, String>,
    pub backstage: Option<Value>,
    pub config_schema_kind: Option<&'static str>,
    pub config_schema: Option<Value>,
    pub integrity: Option<String>,
    pub tarball: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Packument {
    pub latest: Option<String>,
    pub versions: Vec<PublishedVersion>,
}

impl Packument {
    /// The packages the plugin says are its own (`backstage.pluginPackages` of any version).
    pub fn plugin_packages(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .versions
            .iter()
            .filter_map(|v| v.backstage.as_ref()?.get("pluginPackages")?.as_array())
            .flatten()
            .filter_map(|n| n.as_str().filter(|n| is_package_name(n)).map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        // A package names its plugin's few siblings; a longer list is not a plugin's.
        names.truncate(MAX_PLUGIN_PACKAGES);
        names
    }
}

/// The most sibling packages one package's `backstage.pluginPackages` brings into the directory.
const MAX_PLUGIN_PACKAGES: usize = 20;

/// npm's rules for a package name: lower case, at most 214 characters, an optional `@scope/`,
/// and URL-safe characters only.
pub fn is_package_name(name: &str) -> bool {
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

/// The packument's URL under `registry` (which may have a path, e.g. a proxy's prefix).
pub fn packument_url(registry: &str, name: &str) -> String {
    format!("{}/{}", registry.trim_end_matches('/'), name.replacen('/', "%2f", 1))
}

/// Fetches and parses one packument. `Ok(None)` when the registry does not know the package.
pub async fn fetch_packument(policy: &FetchPolicy, registry: &str, name: &str) -> Result<Option<Packument>, String> {
    let url = packument_url(registry, name);
    let allow = HostAllowlist::only_host_of(&url)?;
    match fetch::fetch_bytes(policy, &allow, &url, "application/json", MAX_PACKUMENT_BYTES).await {
        Ok(body) => parse_packument(&body).map(Some),
        Err(e) if e.ends_with("answered 404 Not Found") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses a full packument; versions that are not semver are skipped.
pub fn parse_packument(body: &[u8]) -> Result<Packument, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not a packument: {e}"))?;
    let Some(versions) = doc.get("versions").and_then(Value::as_object) else {
        return Err("not a packument: no `versions` object".to_owned());
    };
    let times = doc.get("time").and_then(Value::as_object);
    let latest = doc.pointer("/dist-tags/latest").and_then(Value::as_str).map(str::to_owned);
    let mut out: Vec<PublishedVersion> = versions
        .iter()
        .filter(|(v, _)| nodejs_semver::Version::parse(v.as_str()).is_ok())
        .map(|(version, manifest)| {
            let published_at = times
                .and_then(|t| t.get(version))
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let (config_schema_kind, config_schema) = config_schema(manifest.get("configSchema"));
            PublishedVersion {
                version: version.clone(),
                published_at,
                deprecated: deprecation(manifest.get("deprecated")),
                dependencies: ranges(manifest.get("dependencies")),
                peer_dependencies: ranges(manifest.get("peerDependencies")),
                backstage: manifest.get("backstage").filter(|b| b.is_object()).cloned(),
                config_schema_kind,
                config_schema,
                integrity: integrity(manifest.get("dist")),
                tarball: manifest.pointer("/dist/tarball").and_then(Value::as_str).map(str::to_owned),
            }
        })
        .collect();
    out.sort_by_cached_key(|v| nodejs_semver::Version::parse(&v.version).ok());
    Ok(Packument { latest, versions: out })
}

/// `name -> range` pairs; anything that is not a string range is left out.
fn ranges(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

/// npm writes the deprecation message; some tools write `true`.
fn deprecation(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Bool(true) => Some("deprecated".to_owned()),
        _ => None,
    }
}

/// An inline schema, or a path to one in the tarball (`.json`), or TypeScript types only.
fn config_schema(value: Option<&Value>) -> (Option<&'static str>, Option<Value>) {
    match value {
        Some(schema @ Value::Object(_)) => (Some("inline"), Some(schema.clone())),
        Some(Value::String(path)) if path.ends_with(".json") => (Some("file"), Some(Value::String(path.clone()))),
        Some(Value::String(path)) if path.ends_with(".ts") => (Some("typescript"), None),
        _ => (None, None),
    }
}

/// `dist.integrity` when it names an algorithm npm checks; otherwise SHA-1 from `dist.shasum`.
fn integrity(dist: Option<&Value>) -> Option<String> {
    let dist = dist?;
    // The strongest hash named, as npm checks it.
    let sri = dist.get("integrity").and_then(Value::as_str).and_then(|i| {
        ["sha512-", "sha384-", "sha256-"].iter().find_map(|alg| i.split_whitespace().find(|h| h.starts_with(alg)))
    });
    if let Some(sri) = sri {
        return Some(sri.to_owned());
    }
    let shasum = crate::audit::chain::unhex(dist.get("shasum").and_then(Value::as_str)?)?;
    (shasum.len() == 20).then(|| format!("sha1-{}", base64::engine::general_purpose::STANDARD.encode(shasum)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_follow_npm() {
        for good in ["@acme/backstage-plugin-costs", "left-pad", "@a/b", "x.y_z~1"] {
            assert!(is_package_name(good), "{good}");
        }
        for bad in ["", "@acme", "@acme/", "Acme", "@acme/Costs", ".hidden", "_x", "a b", "a/b", &"x".repeat(215)] {
            assert!(!is_package_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_mirror_packument_with_missing_fields_and_offsets_parses() {
        let body = br#"{
            "name": "@roadiehq/backstage-plugin-argo-cd",
            "dist-tags": {"latest": "2.12.4"},
            "time": {"2.12.5": "2026-03-28T16:08:47.930000+00:00", "2.12.4": "2026-01-02T10:00:00Z"},
            "versions": {
                "2.12.5": {
                    "dependencies": {"@backstage/core-plugin-api": "^1.10.0", "odd": 3},
                    "peerDependencies": {"react-router-dom": "6.0.0-beta.0  || ^6.3.0"},
                    "configSchema": "config.d.ts",
                    "backstage": {"role": "frontend-plugin"},
                    "dist": {"tarball": "https://r/x.tgz", "integrity": "sha512-abc"}
                },
                "2.12.4": {"deprecated": "use 2.12.5", "dist": {"shasum": "0123456789abcdef0123456789abcdef01234567"}},
                "not-a-version": {}
            }
        }"#;
        let p = parse_packument(body).unwrap();
        assert_eq!(p.latest.as_deref(), Some("2.12.4"));
        assert_eq!(p.versions.len(), 2);
        let new = &p.versions[1];
        assert_eq!(new.version, "2.12.5");
        assert_eq!(new.published_at.unwrap().to_rfc3339(), "2026-03-28T16:08:47.930+00:00");
        assert_eq!(new.dependencies.len(), 1, "a dependency that is not a string range is left out");
        assert_eq!(new.peer_dependencies["react-router-dom"], "6.0.0-beta.0  || ^6.3.0");
        assert_eq!(new.config_schema_kind, Some("typescript"));
        assert_eq!(new.integrity.as_deref(), Some("sha512-abc"));
        let old = &p.versions[0];
        assert_eq!(old.deprecated.as_deref(), Some("use 2.12.5"));
        assert_eq!(old.integrity.as_deref(), Some("sha1-ASNFZ4mrze8BI0VniavN7wEjRWc="));
        assert!(old.published_at.is_some());
    }

    #[test]
    fn a_document_without_versions_is_refused() {
        assert!(parse_packument(br#"{"error":"not found"}"#).is_err());
        assert!(parse_packument(b"<html>").is_err());
    }

    #[test]
    fn scoped_names_are_escaped_once() {
        assert_eq!(packument_url("http://127.0.0.1:4873/", "@scope/name"), "http://127.0.0.1:4873/@scope%2fname");
        assert_eq!(packument_url("https://r.example/npm", "plain"), "https://r.example/npm/plain");
    }
}
