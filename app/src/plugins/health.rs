//! What the tenant's runtimes run. Each runtime reports the dynamic plugin packages it loaded or
//! failed to load (`POST /api/plugins/health`); each installed package's health is those reports
//! against the current revision: running, failed, or drifted (another version running, running
//! while disabled, or not running at all).

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::model::{Health, HealthReport, InstalledPackage, LoadState, RuntimeReport, RuntimeSummary};
use super::repo;
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::{Connection, Database};
use crate::error::{self, AppError, AppResult};
use crate::events::bus::{self, Event};
use crate::tenancy::model::Tenant;

/// The most packages one report may name (a large RHDH runs about a hundred).
pub const MAX_PACKAGES: usize = 2_000;
/// The most runtimes reporting for one tenant at a time.
pub const MAX_RUNTIMES: i64 = 50;
/// The name of a runtime that does not give one.
pub const DEFAULT_INSTANCE: &str = "default";
/// The most of a load error kept (stack traces run long).
const MAX_ERROR: usize = 2_000;

/// Records what one runtime runs. Returns whether it differs from that runtime's last report:
/// a change is audited and announced (`plugin:health`); the same report again only says the
/// runtime is still there.
pub async fn report(db: &Database, tenant: &Tenant, source: AuditSource, report: HealthReport) -> AppResult<bool> {
    let HealthReport { instance, mut plugins } = report;
    let instance = match instance.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_INSTANCE.to_owned(),
        Some(name) => valid_instance(name)?,
    };
    if plugins.len() > MAX_PACKAGES {
        return Err(AppError::invalid(format!("A report names at most {MAX_PACKAGES} packages.")));
    }
    for plugin in &mut plugins {
        plugin.package = error::typed(&plugin.package, "A package name", 214)?.to_owned();
        plugin.version = error::typed(&plugin.version, "A version", 256)?.to_owned();
        if plugin.package.is_empty() || plugin.version.is_empty() {
            return Err(AppError::invalid("Every package needs its name and version."));
        }
        plugin.error = plugin.error.take().map(|e| e.replace('\0', "").chars().take(MAX_ERROR).collect());
        if plugin.state == LoadState::Loaded {
            plugin.error = None;
        }
    }
    plugins.sort_by(|a, b| a.package.cmp(&b.package));
    if let Some(twice) = plugins.windows(2).find(|w| w[0].package == w[1].package) {
        return Err(AppError::invalid(format!("{} is named twice in the report.", twice[0].package)));
    }
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if repo::other_runtimes(conn, &instance).await? >= MAX_RUNTIMES {
                return Err(AppError::invalid(format!(
                    "At most {MAX_RUNTIMES} runtimes report at a time; one silent for a day is forgotten."
                )));
            }
            let before = repo::replace_health(conn, &instance, &plugins).await?;
            let now: BTreeMap<String, (String, LoadState, Option<String>)> =
                plugins.iter().map(|p| (p.package.clone(), (p.version.clone(), p.state, p.error.clone()))).collect();
            if before == now {
                return Ok(false);
            }
            let failed: Vec<String> =
                plugins.iter().filter(|p| p.state == LoadState::Failed).map(|p| p.package.clone()).collect();
            let loaded = plugins.len() - failed.len();
            let gone: Vec<&String> = before.keys().filter(|p| !now.contains_key(*p)).collect();
            let event = AuditEvent::success(AuditAction::PluginHealthReported, instance.clone())
                .details(json!({ "loaded": loaded, "failed": failed, "gone": gone }));
            record(conn, &source, event).await?;
            bus::publish(conn, Event::PluginHealth { instance, loaded, failed }).await?;
            Ok(true)
        })
    })
    .await
}

fn valid_instance(name: &str) -> AppResult<String> {
    let ok = name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'));
    if !ok {
        return Err(AppError::invalid(
            "A runtime's instance name has at most 100 letters, digits, '.', '-', '_', ':' or '/'.",
        ));
    }
    Ok(name.to_owned())
}

/// What the runtimes heard from within the last day report, by package.
pub struct Reports {
    by_package: HashMap<String, Vec<RuntimeReport>>,
    pub runtimes: Vec<RuntimeSummary>,
}

impl Reports {
    pub async fn load(conn: &mut Connection) -> AppResult<Self> {
        let mut by_package: HashMap<String, Vec<RuntimeReport>> = HashMap::new();
        let mut runtimes: BTreeMap<String, RuntimeSummary> = BTreeMap::new();
        for (package, report) in repo::health_reports(conn).await? {
            let summary = runtimes.entry(report.instance.clone()).or_insert_with(|| RuntimeSummary {
                instance: report.instance.clone(),
                reported_at: report.reported_at,
                loaded: 0,
                failed: 0,
            });
            summary.reported_at = summary.reported_at.max(report.reported_at);
            match report.state {
                LoadState::Loaded => summary.loaded += 1,
                LoadState::Failed => summary.failed += 1,
            }
            by_package.entry(package).or_default().push(report);
        }
        Ok(Reports { by_package, runtimes: runtimes.into_values().collect() })
    }

    pub fn of(&self, package: &str) -> Vec<RuntimeReport> {
        self.by_package.get(package).cloned().unwrap_or_default()
    }

    /// The health of an installed package: its reports against the revision.
    pub fn health(&self, package: &InstalledPackage, loaded_by_runtimes: bool) -> Health {
        if !loaded_by_runtimes {
            return Health::Library;
        }
        if self.runtimes.is_empty() {
            return Health::Unreported;
        }
        let reports = self.by_package.get(&package.package).map(Vec::as_slice).unwrap_or_default();
        if let Some(failed) = reports.iter().find(|r| r.state == LoadState::Failed) {
            return Health::Failed {
                instance: failed.instance.clone(),
                error: failed.error.clone().unwrap_or_else(|| "no error given".into()),
            };
        }
        if let Some(other) = reports.iter().find(|r| r.version != package.version) {
            return Health::Drift {
                instance: other.instance.clone(),
                detail: format!("runs {} instead of {}", other.version, package.version),
            };
        }
        if package.disabled {
            return match reports.first() {
                Some(running) => Health::Drift {
                    instance: running.instance.clone(),
                    detail: "runs it although it is disabled".into(),
                },
                None => Health::Off,
            };
        }
        match self.runtimes.iter().find(|r| !reports.iter().any(|report| report.instance == r.instance)) {
            Some(missing) => Health::Drift { instance: missing.instance.clone(), detail: "does not run it".into() },
            None => Health::Running,
        }
    }

    /// Packages a runtime runs that the set does not hold, as sentences.
    pub fn unexpected(&self, set: &[InstalledPackage], revision: i32) -> Vec<String> {
        let mut lines: Vec<String> = self
            .by_package
            .iter()
            .filter(|(package, _)| !set.iter().any(|p| &p.package == *package))
            .flat_map(|(package, reports)| {
                reports.iter().map(move |r| {
                    format!("{} runs {package} {}, which revision {revision} does not hold", r.instance, r.version)
                })
            })
            .collect();
        lines.sort();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn installed(package: &str, version: &str, disabled: bool) -> InstalledPackage {
        InstalledPackage {
            package: package.into(),
            version: version.into(),
            plugin: Some("p".into()),
            role: Some("frontend-plugin".into()),
            disabled,
            config: None,
            integrity: None,
        }
    }

    fn reported(instance: &str, version: &str, state: LoadState) -> RuntimeReport {
        RuntimeReport {
            instance: instance.into(),
            version: version.into(),
            state,
            error: (state == LoadState::Failed).then(|| "boom".into()),
            reported_at: Utc::now(),
        }
    }

    fn reports(rows: Vec<(&str, RuntimeReport)>) -> Reports {
        let mut by_package: HashMap<String, Vec<RuntimeReport>> = HashMap::new();
        let mut runtimes: Vec<RuntimeSummary> = Vec::new();
        for (package, report) in rows {
            if !runtimes.iter().any(|r| r.instance == report.instance) {
                runtimes.push(RuntimeSummary {
                    instance: report.instance.clone(),
                    reported_at: report.reported_at,
                    loaded: 0,
                    failed: 0,
                });
            }
            by_package.entry(package.into()).or_default().push(report);
        }
        Reports { by_package, runtimes }
    }

    #[test]
    fn each_way_a_runtime_can_differ_from_the_revision_is_named() {
        let a = installed("@x/a", "1.0.0", false);
        assert_eq!(reports(vec![]).health(&a, true), Health::Unreported);
        assert_eq!(reports(vec![]).health(&a, false), Health::Library);
        let running = reports(vec![("@x/a", reported("rt1", "1.0.0", LoadState::Loaded))]);
        assert_eq!(running.health(&a, true), Health::Running);
        let failed = reports(vec![("@x/a", reported("rt1", "1.0.0", LoadState::Failed))]);
        assert_eq!(failed.health(&a, true), Health::Failed { instance: "rt1".into(), error: "boom".into() });
        let older = reports(vec![("@x/a", reported("rt1", "0.9.0", LoadState::Loaded))]);
        assert!(
            matches!(older.health(&a, true), Health::Drift { detail, .. } if detail == "runs 0.9.0 instead of 1.0.0")
        );
        let one_of_two = reports(vec![
            ("@x/a", reported("rt1", "1.0.0", LoadState::Loaded)),
            ("@x/b", reported("rt2", "2.0.0", LoadState::Loaded)),
        ]);
        assert!(
            matches!(one_of_two.health(&a, true), Health::Drift { instance, detail } if instance == "rt2" && detail == "does not run it")
        );
        assert_eq!(
            one_of_two.unexpected(std::slice::from_ref(&a), 3),
            vec!["rt2 runs @x/b 2.0.0, which revision 3 does not hold".to_owned()]
        );
        let off = installed("@x/a", "1.0.0", true);
        assert_eq!(one_of_two.health(&installed("@x/c", "1.0.0", true), true), Health::Off);
        assert!(matches!(running.health(&off, true), Health::Drift { detail, .. } if detail.contains("disabled")));
    }

    #[test]
    fn instance_names_are_short_and_plain() {
        assert_eq!(valid_instance("rhdh-0.prod:7007").unwrap(), "rhdh-0.prod:7007");
        assert!(valid_instance("a b").is_err());
        assert!(valid_instance(&"x".repeat(101)).is_err());
    }
}
