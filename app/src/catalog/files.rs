//! Reading entities from local files, as a file Location does: follow `Location` targets and
//! resolve `$text` / `$json` / `$yaml` placeholders relative to the file that names them,
//! never outside the folder the import started in. Placeholders naming a URL keep the URL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::service::parse_documents;

/// A document read from disk, with the file it came from.
pub struct FileDocument {
    pub file: PathBuf,
    pub document: Result<Value, String>,
}

/// Reads `entry` and every file its Locations lead to (depth first, each file once).
pub fn read_location(entry: &Path) -> std::io::Result<Vec<FileDocument>> {
    let entry = entry.canonicalize()?;
    let root = entry.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut pending = vec![entry];
    while let Some(file) = pending.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let text = std::fs::read_to_string(&file)?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut targets = Vec::new();
        for document in parse_documents(&text) {
            let document = document.and_then(|mut d| {
                resolve_placeholders(&mut d, &dir, &root)?;
                Ok(d)
            });
            if let Ok(d) = &document {
                if d["kind"].as_str().is_some_and(|k| k.eq_ignore_ascii_case("location")) {
                    targets.extend(location_targets(d));
                }
            }
            out.push(FileDocument { file: file.clone(), document });
        }
        for target in targets.into_iter().rev() {
            match inside(&dir.join(&target), &root) {
                Some(path) => pending.push(path),
                None => out.push(FileDocument {
                    file: file.clone(),
                    document: Err(format!("Location target `{target}` is outside the imported folder or missing")),
                }),
            }
        }
    }
    Ok(out)
}

fn location_targets(location: &Value) -> Vec<String> {
    let spec = &location["spec"];
    let mut targets: Vec<String> =
        spec["targets"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    targets.extend(spec["target"].as_str().map(str::to_owned));
    targets
}

/// Replaces `{"$text": "./file"}` (and `$json`, `$yaml`) with the file's content.
fn resolve_placeholders(value: &mut Value, dir: &Path, root: &Path) -> Result<(), String> {
    match value {
        Value::Object(map)
            if map.len() == 1 && map.keys().all(|k| matches!(k.as_str(), "$text" | "$json" | "$yaml")) =>
        {
            let (kind, target) = map.iter().next().map(|(k, v)| (k.clone(), v.clone())).expect("one entry");
            let target = target.as_str().ok_or_else(|| format!("{kind}: must name a file"))?;
            if target.starts_with("https://") || target.starts_with("http://") {
                // Remote content is not fetched from a file import: keep the address instead.
                *value = Value::String(target.to_owned());
                return Ok(());
            }
            let path = inside(&dir.join(target), root)
                .ok_or_else(|| format!("{kind}: `{target}` is outside the imported folder or missing"))?;
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{kind}: {target}: {e}"))?;
            *value = match kind.as_str() {
                "$text" => Value::String(text),
                "$json" => serde_json::from_str(&text).map_err(|e| format!("$json: {target}: {e}"))?,
                _ => serde_norway::from_str(&text).map_err(|e| format!("$yaml: {target}: {e}"))?,
            };
            Ok(())
        }
        Value::Object(map) => map.values_mut().try_for_each(|v| resolve_placeholders(v, dir, root)),
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve_placeholders(v, dir, root)),
        _ => Ok(()),
    }
}

fn inside(path: &Path, root: &Path) -> Option<PathBuf> {
    path.canonicalize().ok().filter(|p| p.starts_with(root))
}
