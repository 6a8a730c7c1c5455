//! A plugin package's configuration (`pluginConfig`, an app-config fragment RHDH merges into
//! `app-config.dynamic-plugins.yaml`), checked before any revision holds it: YAML that is a
//! mapping, secrets only as environment references (`${VAR}`), no key that another package of
//! the set sets differently (RHDH's installer would only find out at start-up), and the JSON
//! schema the package ships — inline in its `package.json`, or a `.json` file inside its
//! verified tarball (`dist/.config-schema.json` of bundled dynamic plugins first).

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

use super::directory::Directory;
use super::model::{ConflictReport, InstalledPackage, SchemaAvailability};
use super::repo;
use crate::db::Connection;
use crate::error::{AppError, AppResult};

/// The longest configuration accepted, as YAML text.
pub const MAX_YAML: usize = 64 * 1024;
/// The most schema errors reported at once.
const MAX_ERRORS: usize = 10;
/// Key names whose values are secrets.
const SECRET_WORDS: [&str; 7] = ["secret", "token", "password", "apikey", "api_key", "privatekey", "private_key"];

/// Parses configuration YAML: a mapping, or nothing (empty text clears it).
pub fn parse_yaml(text: &str) -> AppResult<Option<Value>> {
    if text.len() > MAX_YAML || text.contains('\0') {
        return Err(AppError::invalid(format!(
            "Configuration is at most {} KiB of YAML, without NUL bytes.",
            MAX_YAML / 1024
        )));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_norway::from_str(text)
        .map_err(|e| AppError::invalid(format!("The configuration is not valid YAML: {e}")))?;
    // YAML's "\0" escapes (and JSON's "\u0000") decode to NUL, which no revision can store.
    if serde_json::to_string(&value).is_ok_and(|json| json.contains("\\u0000")) {
        return Err(AppError::invalid("Configuration values hold no NUL bytes."));
    }
    match value {
        Value::Object(map) if map.is_empty() => Ok(None),
        Value::Object(_) => Ok(Some(value)),
        Value::Null => Ok(None),
        _ => Err(AppError::invalid("The configuration must be a mapping of app-config keys (e.g. `techRadar:`).")),
    }
}

/// The configuration as YAML, for the editor.
pub fn to_yaml(config: &Value) -> String {
    serde_norway::to_string(config).unwrap_or_default()
}

/// The dotted paths a configuration sets, without their values (what the audit log keeps).
pub fn key_paths(config: &Value) -> Vec<String> {
    leaves(config).into_iter().map(|(path, _)| path.join(".")).collect()
}

/// Every leaf of `value` by its path of keys (a key may itself hold dots).
fn leaves(value: &Value) -> Vec<(Vec<String>, &Value)> {
    fn walk<'v>(value: &'v Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'v Value)>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(key.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => out.push((path.clone(), value)),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// Secrets written in plain text.
pub fn plain_secrets(package: &str, config: &Value) -> Vec<String> {
    leaves(config)
        .into_iter()
        .filter(|(path, value)| {
            let key = path.last().map(|k| k.to_ascii_lowercase().replace('-', "")).unwrap_or_default();
            SECRET_WORDS.iter().any(|word| key.contains(word)) && !is_env_reference(value)
        })
        .map(|(path, _)| {
            let path = path.join(".");
            format!("{package}: `{path}` holds a secret in plain text; write `${{ENV_VAR}}` and set it in the runtime's environment.")
        })
        .collect()
}

fn is_env_reference(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        let s = s.trim();
        s.starts_with("${") && s.ends_with('}') && s.len() > 3 && !s[2..s.len() - 1].contains(['$', '{', '}'])
    })
}

/// Keys two enabled packages of `set` set differently: the same key to two values, or one
/// package a value where another sets keys under it (RHDH cannot merge either).
pub fn conflicts(set: &[InstalledPackage]) -> Vec<String> {
    let mut seen: BTreeMap<Vec<String>, (&str, &Value)> = BTreeMap::new();
    let mut found = Vec::new();
    for package in set.iter().filter(|p| !p.disabled) {
        let Some(config) = &package.config else { continue };
        for (path, value) in leaves(config) {
            let shown = path.join(".");
            let clash = match seen.get(&path) {
                Some((other, theirs)) if *other != package.package && *theirs != value => Some((*other, shown.clone())),
                Some(_) => None,
                None => (1..path.len())
                    .find_map(|n| {
                        seen.get(&path[..n])
                            .filter(|(o, _)| *o != package.package)
                            .map(|(o, _)| (*o, path[..n].join(".")))
                    })
                    .or_else(|| {
                        seen.iter()
                            .find(|(p, (o, _))| p.len() > path.len() && p.starts_with(&path) && *o != package.package)
                            .map(|(_, (o, _))| (*o, shown.clone()))
                    }),
            };
            match clash {
                Some((other, at)) => found.push(format!(
                    "{} and {other} both set `{at}`, differently: RHDH would refuse to start. Set it in one of them.",
                    package.package
                )),
                None => {
                    seen.entry(path).or_insert((&package.package, value));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The JSON schemas of a package: its inline schema, or the `.json` file its manifest names
/// (`schema_path`) or `dist/.config-schema.json` in its tarball (`{"schemas": [{"value"}]}`).
pub fn schemas(inline: Option<&Value>, schema_path: Option<&str>, tarball: Option<&[u8]>) -> Vec<Value> {
    if let Some(schema) = inline.filter(|s| s.is_object()) {
        return vec![schema.clone()];
    }
    let Some(tarball) = tarball else { return Vec::new() };
    let wanted: Vec<String> = ["dist/.config-schema.json".to_owned()]
        .into_iter()
        .chain(schema_path.map(|p| p.trim_start_matches("./").to_owned()))
        .map(|p| format!("package/{p}"))
        .collect();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    if let Ok(entries) = archive.entries() {
        for mut entry in entries.flatten() {
            let path = entry.path().map(|p| p.display().to_string()).unwrap_or_default();
            if wanted.contains(&path) && entry.header().size().is_ok_and(|s| s <= 4 * 1024 * 1024) {
                let mut bytes = Vec::new();
                if entry.read_to_end(&mut bytes).is_ok() {
                    files.insert(path, bytes);
                }
            }
        }
    }
    for path in &wanted {
        let Some(doc) = files.get(path).and_then(|b| serde_json::from_slice::<Value>(b).ok()) else { continue };
        return match doc.get("schemas").and_then(Value::as_array) {
            Some(bundled) => bundled.iter().filter_map(|s| s.get("value").cloned()).collect(),
            None => vec![doc],
        };
    }
    Vec::new()
}

/// What `config` breaks in `schemas` (draft-07, no network), as sentences.
pub fn schema_errors(package: &str, schemas: &[Value], config: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for schema in schemas {
        let validator = match jsonschema::draft7::new(schema) {
            Ok(validator) => validator,
            Err(e) => {
                errors.push(format!("{package} ships a schema that cannot be used: {e}"));
                continue;
            }
        };
        for error in validator.iter_errors(config).take(MAX_ERRORS) {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() { "the configuration".to_owned() } else { format!("`{at}`") };
            // Masked: the message never repeats a value (it may be a secret; refusals are audited).
            errors.push(format!("{package}: {at}: {}", error.masked()));
        }
    }
    errors
}

/// Checks the configuration of the set a change would make: every package whose version or
/// configuration changed against its schema and for plain secrets, and the whole set for keys
/// set twice. `Ok(notes)` says what could only be checked as YAML; `Err` refuses the change.
pub async fn check_set(
    conn: &mut Connection,
    directory: &Directory,
    before: &[InstalledPackage],
    after: &[InstalledPackage],
) -> AppResult<Result<Vec<String>, ConflictReport>> {
    let mut problems = conflicts(after);
    let mut notes = Vec::new();
    for package in after {
        let Some(config) = &package.config else { continue };
        let unchanged = before
            .iter()
            .any(|b| b.package == package.package && b.version == package.version && b.config == package.config);
        if unchanged {
            continue;
        }
        problems.extend(plain_secrets(&package.package, config));
        let version = directory.packages.get(&package.package).and_then(|p| p.version(&package.version));
        let declared = version.and_then(|v| v.config_schema.as_ref());
        let inline = declared.filter(|s| s.is_object());
        let tarball = match (inline, &package.integrity) {
            (None, Some(integrity)) => repo::artifact(conn, integrity).await?,
            _ => None,
        };
        // Unpacking a tarball is CPU work: off the async workers.
        let (inline, path) = (inline.cloned(), declared.and_then(Value::as_str).map(str::to_owned));
        let found = tokio::task::spawn_blocking(move || schemas(inline.as_ref(), path.as_deref(), tarball.as_deref()))
            .await
            .map_err(AppError::internal)?;
        if !found.is_empty() {
            problems.extend(schema_errors(&package.package, &found, config));
            continue;
        }
        let name = &package.package;
        notes.push(match version.map_or(SchemaAvailability::None, |v| v.schema) {
            SchemaAvailability::Available => format!(
                "{name}'s schema file could not be read from a verified tarball (none is stored for this version, or it lacks the file): its configuration was checked as YAML only."
            ),
            SchemaAvailability::Unavailable => format!(
                "{name} describes its configuration in TypeScript only (config.d.ts): it was checked as YAML only."
            ),
            SchemaAvailability::None => {
                format!("{name} declares no configuration schema: its configuration was checked as YAML only.")
            }
        });
    }
    if problems.is_empty() {
        return Ok(Ok(notes));
    }
    Ok(Err(ConflictReport {
        explanation: problems,
        suggestions: vec!["Nothing was changed. Correct the configuration and save it again.".into()],
        alternatives: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn installed(package: &str, config: Value) -> InstalledPackage {
        InstalledPackage {
            package: package.into(),
            version: "1.0.0".into(),
            plugin: Some("p".into()),
            role: Some("backend-plugin".into()),
            disabled: false,
            config: Some(config),
            integrity: None,
        }
    }

    #[test]
    fn yaml_must_be_a_mapping_of_keys() {
        assert_eq!(
            parse_yaml("techRadar:\n  url: https://x/r.json\n").unwrap(),
            Some(json!({"techRadar": {"url": "https://x/r.json"}}))
        );
        assert_eq!(parse_yaml("  \n").unwrap(), None);
        assert!(parse_yaml("- a\n- b\n").is_err());
        assert!(parse_yaml("a: [").is_err());
        assert!(parse_yaml("a: \0").is_err());
    }

    #[test]
    fn secrets_must_be_environment_references() {
        let config = json!({"argocd": {"token": "abc", "password": "${ARGO_PASSWORD}", "url": "https://argo"}, "clientSecret": "${A}${B}"});
        let found = plain_secrets("@x/argo", &config);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`argocd.token`"));
        assert!(found[1].contains("`clientSecret`"));
    }

    #[test]
    fn two_packages_setting_one_key_differently_conflict() {
        let a = installed("@x/a", json!({"techRadar": {"url": "https://one"}, "shared": {"same": 1}}));
        let b = installed("@x/b", json!({"techRadar": {"url": "https://two"}, "shared": {"same": 1}}));
        let found = conflicts(&[a.clone(), b]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`techRadar.url`"));
        let scalar = installed("@x/d", json!({"techRadar": "https://whole"}));
        let found = conflicts(&[a.clone(), scalar.clone()]);
        assert!(found.len() == 1 && found[0].contains("`techRadar`"), "a value where another sets keys: {found:?}");
        assert_eq!(conflicts(&[scalar, a.clone()]).len(), 1, "in either order");
        let dotted = installed("@x/e", json!({"techRadar.url": "https://one-dotted"}));
        assert!(conflicts(&[a.clone(), dotted]).is_empty(), "a key with a dot is its own key");
        let mut off = installed("@x/c", json!({"techRadar": {"url": "https://three"}}));
        off.disabled = true;
        assert!(conflicts(&[a, off]).is_empty(), "a disabled package's configuration is not loaded");
    }

    #[test]
    fn configuration_is_validated_against_the_shipped_schema() {
        let schema = json!({"type": "object", "properties": {"techRadar": {"type": "object", "required": ["url"],
            "properties": {"url": {"type": "string"}}}}, "required": ["techRadar"]});
        assert!(schema_errors("@x/a", std::slice::from_ref(&schema), &json!({"techRadar": {"url": "https://x"}}))
            .is_empty());
        let errors = schema_errors("@x/a", &[schema], &json!({"techRadar": {"url": 7}}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("`/techRadar/url`"), "{errors:?}");
        let bundled =
            json!({"backstageConfigSchemaVersion": 1, "schemas": [{"path": "x", "value": {"required": ["a"]}}]});
        let tarball = crate::plugins::artifacts::tests::tarball(&[
            ("package/package.json", "{}"),
            ("package/dist/.config-schema.json", &bundled.to_string()),
        ]);
        assert_eq!(schemas(None, None, Some(&tarball)), vec![json!({"required": ["a"]})]);
        let file =
            crate::plugins::artifacts::tests::tarball(&[("package/config.schema.json", "{\"required\": [\"b\"]}")]);
        assert_eq!(schemas(None, Some("./config.schema.json"), Some(&file)), vec![json!({"required": ["b"]})]);
        assert!(schemas(None, Some("config.d.ts"), None).is_empty());
    }
}
