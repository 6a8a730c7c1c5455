//! Reading a Location tree, as Backstage's processors do: parse each file's documents, follow
//! `Location` entities' targets and resolve `$text` / `$json` / `$yaml` placeholders relative
//! to the file that names them. Where files come from (a folder, an uploaded archive, URLs)
//! is a `Source`; each source keeps reads inside its bounds.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::service::parse_documents;
use crate::fetch::{self, FetchPolicy, HostAllowlist};

/// Files one tree may read, so a Location cycle or fan-out cannot run away.
const MAX_FILES: usize = 500;

/// What a target names, relative to the file that names it.
pub enum Resolved {
    /// An address this source can read.
    Read(String),
    /// Something this source does not read (a URL inside a folder import): a placeholder
    /// becomes the address itself, a Location target is reported as not followed.
    Keep(String),
}

pub trait Source {
    fn resolve(&self, base: &str, target: &str) -> Result<Resolved, String>;
    fn read(&self, address: &str) -> impl Future<Output = Result<String, String>> + Send;
}

/// A document read from a tree: where it came from and which Location entity led there.
pub struct LocatedDocument {
    pub address: String,
    /// The lower-cased ref of the Location entity whose target is this document's file.
    pub parent: Option<String>,
    pub document: Result<Value, String>,
}

/// Reads each entry and every file its Locations lead to (depth first, each file once).
/// With `skip_non_entity_files`, entry files holding no entity (OpenAPI specs, configs in an
/// archive) are passed over instead of reported as rejected documents.
pub async fn read_tree<S: Source>(
    source: &S,
    entries: Vec<(String, Option<String>)>,
    skip_non_entity_files: bool,
) -> Result<Vec<LocatedDocument>, String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let entry_count = entries.len();
    let mut pending: Vec<(String, Option<String>, bool)> =
        entries.into_iter().rev().map(|(address, parent)| (address, parent, true)).collect();
    while let Some((address, parent, is_entry)) = pending.pop() {
        if !seen.insert(address.clone()) {
            continue;
        }
        if seen.len() > MAX_FILES {
            return Err(format!("more than {MAX_FILES} files: stopped at {address}"));
        }
        let text = match source.read(&address).await {
            Ok(text) => text,
            // A single entry that cannot be read fails the whole read (nothing to import).
            Err(e) if is_entry && entry_count == 1 => return Err(e),
            Err(e) => {
                out.push(LocatedDocument { address: address.clone(), parent, document: Err(e) });
                continue;
            }
        };
        let documents = crate::cpu::run(move || parse_documents(&text)).await.map_err(|e| e.to_string())?;
        if is_entry && skip_non_entity_files && !documents.iter().any(|d| d.as_ref().is_ok_and(is_entity_like)) {
            continue;
        }
        let mut targets = Vec::new();
        for document in documents {
            let document = match document {
                Ok(mut d) => resolve_placeholders(source, &address, &mut d).await.map(|()| d),
                Err(e) => Err(e),
            };
            if let Ok(d) = &document {
                if d["kind"].as_str().is_some_and(|k| k.eq_ignore_ascii_case("location")) {
                    let key = location_key(d);
                    targets.extend(location_targets(d).into_iter().map(|t| (t, key.clone())));
                }
            }
            out.push(LocatedDocument { address: address.clone(), parent: parent.clone(), document });
        }
        for (target, location) in targets.into_iter().rev() {
            match source.resolve(&address, &target) {
                Ok(Resolved::Read(next)) => pending.push((next, location, false)),
                Ok(Resolved::Keep(_)) => out.push(LocatedDocument {
                    address: address.clone(),
                    parent: parent.clone(),
                    document: Err(format!("Location target `{target}` cannot be read from this source")),
                }),
                Err(e) => {
                    out.push(LocatedDocument { address: address.clone(), parent: parent.clone(), document: Err(e) })
                }
            }
        }
    }
    Ok(out)
}

fn is_entity_like(document: &Value) -> bool {
    document.get("apiVersion").is_some() && document.get("kind").is_some()
}

/// `location:<namespace>/<name>`, lower-cased, of a Location document.
fn location_key(location: &Value) -> Option<String> {
    let name = location["metadata"]["name"].as_str()?;
    let namespace = location["metadata"]["namespace"].as_str().unwrap_or("default");
    Some(format!("location:{namespace}/{name}").to_lowercase())
}

fn location_targets(location: &Value) -> Vec<String> {
    let spec = &location["spec"];
    let mut targets: Vec<String> =
        spec["targets"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    targets.extend(spec["target"].as_str().map(str::to_owned));
    targets
}

/// Replaces `{"$text": "./file"}` (and `$json`, `$yaml`) with the named file's content.
async fn resolve_placeholders<S: Source>(source: &S, base: &str, document: &mut Value) -> Result<(), String> {
    let mut found = Vec::new();
    find_placeholders(document, String::new(), &mut found);
    for (pointer, kind, target) in found {
        let replacement = match source.resolve(base, &target)? {
            Resolved::Keep(address) => Value::String(address),
            Resolved::Read(address) => {
                let text = source.read(&address).await.map_err(|e| format!("{kind}: {e}"))?;
                match kind.as_str() {
                    "$text" => Value::String(text),
                    "$json" => serde_json::from_str(&text).map_err(|e| format!("$json: {target}: {e}"))?,
                    _ => serde_norway::from_str(&text).map_err(|e| format!("$yaml: {target}: {e}"))?,
                }
            }
        };
        if let Some(slot) = document.pointer_mut(&pointer) {
            *slot = replacement;
        }
    }
    Ok(())
}

fn find_placeholders(value: &Value, pointer: String, found: &mut Vec<(String, String, String)>) {
    match value {
        Value::Object(map)
            if map.len() == 1 && map.keys().all(|k| matches!(k.as_str(), "$text" | "$json" | "$yaml")) =>
        {
            let (kind, target) = map.iter().next().expect("one entry");
            found.push((pointer, kind.clone(), target.as_str().unwrap_or_default().to_owned()));
        }
        Value::Object(map) => {
            for (key, v) in map {
                find_placeholders(v, format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")), found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_placeholders(v, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

fn is_url(target: &str) -> bool {
    target.starts_with("https://") || target.starts_with("http://")
}

/// A folder on the server's disk (the CLI's `catalog import`): reads stay inside `root`.
pub struct FolderSource {
    pub root: PathBuf,
}

impl FolderSource {
    /// The source for a tree starting at `entry`, confined to the entry's folder.
    pub fn for_entry(entry: &Path) -> std::io::Result<(Self, String)> {
        let entry = entry.canonicalize()?;
        let root = entry.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((Self { root }, entry.to_string_lossy().into_owned()))
    }
}

impl Source for FolderSource {
    fn resolve(&self, base: &str, target: &str) -> Result<Resolved, String> {
        if is_url(target) {
            return Ok(Resolved::Keep(target.to_owned()));
        }
        let dir = Path::new(base).parent().unwrap_or(Path::new(""));
        dir.join(target)
            .canonicalize()
            .ok()
            .filter(|p| p.starts_with(&self.root))
            .map(|p| Resolved::Read(p.to_string_lossy().into_owned()))
            .ok_or_else(|| format!("`{target}` is outside the imported folder or missing"))
    }

    async fn read(&self, address: &str) -> Result<String, String> {
        std::fs::read_to_string(address).map_err(|e| format!("{address}: {e}"))
    }
}

/// The text files of an uploaded archive, by their normalised path inside it.
#[derive(Debug)]
pub struct ArchiveSource {
    pub files: HashMap<String, String>,
}

impl ArchiveSource {
    /// Every YAML file, shallowest first, as entries of a tree.
    pub fn entries(&self) -> Vec<(String, Option<String>)> {
        let mut paths: Vec<&String> =
            self.files.keys().filter(|p| p.ends_with(".yaml") || p.ends_with(".yml")).collect();
        paths.sort_by_key(|p| (p.matches('/').count(), p.as_str()));
        paths.into_iter().map(|p| (p.clone(), None)).collect()
    }
}

/// Joins a relative path to the folder of `base`, refusing to climb above the archive's root.
pub fn join_inside(base: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = Path::new(base)
        .parent()
        .map(|p| p.components().filter_map(|c| c.as_os_str().to_str()).collect())
        .unwrap_or_default();
    for component in Path::new(target).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

impl Source for ArchiveSource {
    fn resolve(&self, base: &str, target: &str) -> Result<Resolved, String> {
        if is_url(target) {
            return Ok(Resolved::Keep(target.to_owned()));
        }
        join_inside(base, target).map(Resolved::Read).ok_or_else(|| format!("`{target}` points outside the archive"))
    }

    async fn read(&self, address: &str) -> Result<String, String> {
        self.files.get(address).cloned().ok_or_else(|| format!("`{address}` is not in the archive"))
    }
}

/// URLs, fetched under the operator's policy and the tenant's allowlist.
pub struct UrlSource {
    pub policy: FetchPolicy,
    pub allowlist: HostAllowlist,
}

impl Source for UrlSource {
    fn resolve(&self, base: &str, target: &str) -> Result<Resolved, String> {
        let base = fetch::parse(base)?;
        let joined = base.join(target).map_err(|e| format!("`{target}`: {e}"))?;
        Ok(Resolved::Read(joined.to_string()))
    }

    async fn read(&self, address: &str) -> Result<String, String> {
        fetch::fetch_text(&self.policy, &self.allowlist, address).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_cannot_climb_out() {
        assert_eq!(join_inside("a/b/all.yaml", "./c.yaml").as_deref(), Some("a/b/c.yaml"));
        assert_eq!(join_inside("a/b/all.yaml", "../c.yaml").as_deref(), Some("a/c.yaml"));
        assert_eq!(join_inside("all.yaml", "../../etc/passwd"), None);
        assert_eq!(join_inside("all.yaml", "/etc/passwd"), None);
    }

    #[tokio::test]
    async fn archive_tree_follows_locations_resolves_text_and_skips_non_entities() {
        let files = HashMap::from([
            (
                "all.yaml".to_owned(),
                "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: root}\nspec: {targets: [./apis/a.yaml, ../x.yaml]}\n".to_owned(),
            ),
            (
                "apis/a.yaml".to_owned(),
                "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: a}\nspec: {definition: {$text: ./a.oas.yaml}}\n".to_owned(),
            ),
            ("apis/a.oas.yaml".to_owned(), "openapi: 3.0.0\n".to_owned()),
        ]);
        let source = ArchiveSource { files };
        let docs = read_tree(&source, source.entries(), true).await.unwrap();
        let api = docs.iter().find(|d| d.document.as_ref().is_ok_and(|v| v["kind"] == "API")).unwrap();
        assert_eq!(api.document.as_ref().unwrap()["spec"]["definition"], "openapi: 3.0.0\n");
        assert_eq!(api.parent.as_deref(), Some("location:default/root"));
        assert!(docs.iter().any(|d| d.document.as_ref().is_err_and(|e| e.contains("outside the archive"))));
        assert_eq!(docs.len(), 3, "the OpenAPI file is not an entity file and is not reported");
    }
}
