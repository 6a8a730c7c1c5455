//! The directory every Beacon starts with, built into the binary: Backstage's release
//! manifests 1.30–1.53, Red Hat's extensions marketplace and backstage.io's plugin directory
//! (`server/demo/plugins/README.md` says where each comes from). Loaded at start-up when it
//! changed; the registry refresh adds every published version afterwards.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::model::Link;

#[derive(Deserialize)]
pub struct SeedDocument {
    pub releases: Vec<SeedRelease>,
    pub plugins: Vec<SeedPlugin>,
    pub packages: Vec<SeedPackage>,
    pub collections: Vec<SeedCollection>,
}

#[derive(Deserialize)]
pub struct SeedRelease {
    pub version: String,
    pub date: Option<DateTime<Utc>>,
    pub packages: BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub struct SeedPlugin {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub docs: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub highlights: Vec<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    pub author: Option<String>,
    pub support: String,
    #[serde(default)]
    pub links: Vec<Link>,
    pub packages: Vec<String>,
    pub added: Option<NaiveDate>,
    pub source: String,
}

#[derive(Deserialize)]
pub struct SeedPackage {
    pub name: String,
    pub role: Option<String>,
    #[serde(rename = "configExample")]
    pub config_example: Option<Value>,
    pub versions: Vec<SeedVersion>,
}

#[derive(Deserialize)]
pub struct SeedVersion {
    pub version: String,
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    #[serde(default, rename = "peerDependencies")]
    pub peer_dependencies: BTreeMap<String, String>,
    pub backstage: Option<Value>,
    #[serde(rename = "supportedBackstage")]
    pub supported_backstage: Option<String>,
    pub artifact: Option<String>,
}

#[derive(Deserialize)]
pub struct SeedCollection {
    pub id: String,
    pub title: Option<String>,
    pub plugins: Vec<String>,
}

/// The bundled directory (gzipped JSON).
pub const BUNDLED: &[u8] = include_bytes!("../../../server/demo/plugins/directory.json.gz");

/// The digest that tells whether a seed was loaded already (checked before parsing it).
pub fn digest(gzipped: &[u8]) -> String {
    use sha2::Digest;
    crate::audit::chain::hex(&sha2::Sha256::digest(gzipped))
}

/// Parses a gzipped seed document.
pub fn parse(gzipped: &[u8]) -> Result<SeedDocument, String> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gzipped).read_to_end(&mut json).map_err(|e| format!("not gzip: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("not a plugin directory: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundled_directory_parses() {
        let doc = super::parse(super::BUNDLED).unwrap();
        assert!(doc
            .releases
            .iter()
            .any(|r| r.version == "1.42.0" && r.packages["@backstage/backend-plugin-api"] == "1.4.2"));
        assert!(doc.plugins.len() > 300);
        let radar = doc.plugins.iter().find(|p| p.id == "tech-radar").unwrap();
        assert_eq!(radar.support, "supported");
        assert!(radar.packages.contains(&"@backstage-community/plugin-tech-radar-backend".to_owned()));
        assert_eq!(super::digest(super::BUNDLED).len(), 64);
    }
}
