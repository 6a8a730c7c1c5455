//! `server bench --plugins N`: the bundled directory enlarged with N generated plugins (a
//! frontend, a backend and a common library each, 30 versions per package over Backstage
//! 1.30–1.53 with the host-API ranges each release line needs), a scratch tenant on Backstage
//! 1.45.3 with 200 of them installed; then over HTTP with an API key, as a runtime or a script
//! would: browse, search and facets, a plugin page, the installed set, a dry-run install solved
//! against the 200-plugin set, and `dynamic-plugins.yaml` (full and 304). Cold is the first call
//! after the directory changed (every server reloads it then); warm are the others.
//!
//! The generated plugins stay in the bench database's directory (it is shared by all tenants):
//! run it on `make bench`'s own services, never on a portal's database.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::{header, Client, Method};
use serde_json::json;

use super::bench::row;
use crate::config::ServeConfig;
use app::access::service::{self as access, NewKey};
use app::audit::service::AuditSource;
use app::auth::service as auth;
use app::db::Database;
use app::error::AppError;
use app::plugins::model::ChangeOutcome;
use app::plugins::repo;
use app::plugins::seed::{self, SeedPackage, SeedPlugin, SeedVersion};
use app::plugins::service::{self, Change, Operation, Plugins};
use app::tenancy::model::Tenant;

/// Versions published per generated package.
const VERSIONS: usize = 30;
/// Plugins the scratch tenant has installed.
const INSTALLED: usize = 200;
const RELEASE: &str = "1.45.3";

/// `count` generated plugins: versions `1.<i>.0` step through the releases oldest to newest,
/// each needing the host APIs its release pins (caret ranges, as published plugins do).
fn generated(count: usize, doc: &seed::SeedDocument) -> (Vec<SeedPlugin>, Vec<SeedPackage>) {
    let releases = &doc.releases;
    let (mut plugins, mut packages) = (Vec::new(), Vec::new());
    for n in 0..count {
        let id = format!("bench-plugin-{n:04}");
        let name = |suffix: &str| format!("@bench/plugin-{n:04}{suffix}");
        let versions = |host: &str, common: bool| -> Vec<SeedVersion> {
            (0..VERSIONS)
                .map(|i| {
                    let release = &releases[i * (releases.len() - 1) / (VERSIONS - 1)];
                    let mut dependencies = BTreeMap::new();
                    if let Some(v) = release.packages.get(host) {
                        dependencies.insert(host.to_owned(), format!("^{v}"));
                    }
                    if let Some(v) = release.packages.get("@backstage/core-components").filter(|_| !host.is_empty()) {
                        dependencies.insert("@backstage/core-components".to_owned(), format!("^{v}"));
                    }
                    if common {
                        dependencies.insert(name("-common"), format!("^1.{i}.0"));
                    }
                    dependencies.insert("zod".to_owned(), "^3.22.4".to_owned());
                    SeedVersion {
                        version: format!("1.{i}.0"),
                        dependencies,
                        peer_dependencies: BTreeMap::new(),
                        backstage: None,
                        supported_backstage: None,
                        artifact: None,
                    }
                })
                .collect()
        };
        let package = |suffix: &str, role: &str, host: &str, common: bool| SeedPackage {
            name: name(suffix),
            role: Some(role.to_owned()),
            config_example: None,
            versions: versions(host, common),
        };
        packages.push(package("", "frontend-plugin", "@backstage/frontend-plugin-api", true));
        packages.push(package("-backend", "backend-plugin", "@backstage/backend-plugin-api", true));
        packages.push(package("-common", "common-library", "", false));
        plugins.push(SeedPlugin {
            id: id.clone(),
            title: format!("Bench plugin {n:04}"),
            summary: format!("A generated plugin for {} dashboards", ["cost", "ci", "security", "docs"][n % 4]),
            docs: "# Generated\n\nA plugin of the benchmark.".to_owned(),
            categories: vec![["Monitoring", "CI/CD", "Security", "Discovery"][n % 4].to_owned()],
            highlights: Vec::new(),
            tags: None,
            author: Some("Bench".to_owned()),
            support: ["community", "supported"][n % 2].to_owned(),
            links: Vec::new(),
            packages: vec![name(""), name("-backend"), name("-common")],
            added: None,
            source: "bench".to_owned(),
        });
    }
    (plugins, packages)
}

/// One timed request: what it asks and the status it must get.
struct Case {
    label: &'static str,
    method: Method,
    path: String,
    body: Option<String>,
    etag: Option<String>,
    status: u16,
}

pub async fn run(
    db: &Database,
    tenant: &Tenant,
    admin_email: &str,
    count: usize,
    base: Option<&str>,
    samples: usize,
) -> Result<(), AppError> {
    let (mut doc, digest) = (seed::parse(seed::BUNDLED).map_err(AppError::internal)?, seed::digest(seed::BUNDLED));
    let (plugins, packages) = generated(count, &doc);
    doc.plugins.extend(plugins);
    doc.packages.extend(packages);
    let total_plugins = doc.plugins.len();
    // Under the bundled seed's digest, so a server starting on this database keeps it.
    db.with_control(move |conn| {
        Box::pin(async move { repo::load_seed(conn, &doc, &digest).await.map_err(AppError::from) })
    })
    .await?;
    println!("directory: {total_plugins} plugins ({count} generated, {VERSIONS} versions per package)");

    let me =
        auth::find_principal(db, tenant, admin_email).await?.ok_or_else(|| AppError::internal("admin not found"))?;
    let cache = Plugins::default();
    service::set_platform(db, &cache, tenant, AuditSource::command_line(), "backstage", RELEASE).await?;
    let started = Instant::now();
    let mut solves = Vec::new();
    for n in 0..INSTALLED {
        let operation = Operation::Install { plugin: format!("bench-plugin-{n:04}"), versions: BTreeMap::new() };
        let change = Change { operation, reason: "bench".to_owned(), dry_run: false, request: None };
        let one = Instant::now();
        match service::change(db, &cache, tenant, AuditSource::command_line(), &me, change).await? {
            ChangeOutcome::Applied { .. } => solves.push(one.elapsed()),
            ChangeOutcome::Refused(report) => return Err(AppError::internal(report.explanation.join(" "))),
        }
    }
    solves.sort();
    let at = |p: f64| solves[((solves.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "{INSTALLED} installs in process in {:.1} s (each solved on the growing set and written as a revision: p50 {:.1} ms, p95 {:.1} ms)",
        started.elapsed().as_secs_f64(),
        at(0.5),
        at(0.95)
    );

    let Some(base) = base else { return Ok(()) };
    let config = ServeConfig::from_env()?;
    let scopes = ["plugins:read".to_owned(), "plugins:write".to_owned(), "plugins:report".to_owned()];
    let key = access::create_key(
        db,
        tenant,
        AuditSource::command_line(),
        &me,
        NewKey::parse("bench plugins", &scopes, "30")?,
    )
    .await?
    .secret;
    let client = Client::builder().build().map_err(AppError::internal)?;
    let host = format!("{}.{}", tenant.slug, config.base_domain);
    let base = base.trim_end_matches('/');
    let call = |method: Method, path: &str, body: Option<String>, etag: Option<&str>| {
        let mut request =
            client.request(method, format!("{base}{path}")).header(header::HOST, &host).header("x-api-key", &key);
        if let Some(body) = body {
            request = request.header(header::CONTENT_TYPE, "application/json").body(body);
        }
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        request.send()
    };
    let yaml = call(Method::GET, "/api/plugins/dynamic-plugins.yaml", None, None).await.map_err(AppError::internal)?;
    let etag = yaml.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let resolve = json!({"operation": "install", "plugin": format!("bench-plugin-{:04}", INSTALLED)}).to_string();
    // A runtime's report of everything it loads, sent once before timing: then each is a heartbeat.
    let installed = call(Method::GET, "/api/plugins/installed", None, None)
        .await
        .map_err(AppError::internal)?
        .bytes()
        .await
        .map_err(AppError::internal)?;
    let installed: serde_json::Value = serde_json::from_slice(&installed).map_err(AppError::internal)?;
    let loaded: Vec<serde_json::Value> = installed["installed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| row["health"]["status"] != "library")
        .map(|row| json!({"package": row["package"]["package"], "version": row["package"]["version"], "state": "loaded"}))
        .collect();
    let report = json!({"instance": "bench-runtime", "plugins": loaded}).to_string();
    call(Method::POST, "/api/plugins/health", Some(report.clone()), None).await.map_err(AppError::internal)?;
    let first = loaded.first().and_then(|p| p["package"].as_str()).unwrap_or_default();
    let configure =
        json!({"operation": "configure", "package": first, "config": {"bench": {"url": "https://example.com"}}})
            .to_string();
    let bulk = json!({"dryRun": true, "operations": [
        {"operation": "install", "plugin": format!("bench-plugin-{:04}", INSTALLED)},
        {"operation": "install", "plugin": format!("bench-plugin-{:04}", INSTALLED + 1)},
        {"operation": "toggle", "plugin": "bench-plugin-0001", "disabled": true},
    ]})
    .to_string();
    let case = |label, method, path: &str, body: Option<String>, etag: Option<&str>, status| Case {
        label,
        method,
        path: path.to_owned(),
        body,
        etag: etag.map(str::to_owned),
        status,
    };
    let cases = vec![
        case("GET /api/plugins (every plugin, facets)", Method::GET, "/api/plugins", None, None, 200),
        case(
            "GET /api/plugins?q=cost&support=supported",
            Method::GET,
            "/api/plugins?q=cost&support=supported",
            None,
            None,
            200,
        ),
        case(
            "GET /api/plugins?compat=compatible&state=installed",
            Method::GET,
            "/api/plugins?compat=compatible&state=installed",
            None,
            None,
            200,
        ),
        case(
            "GET /api/plugins/{id} (3 packages × 30 versions)",
            Method::GET,
            "/api/plugins/bench-plugin-0007",
            None,
            None,
            200,
        ),
        case("GET /api/plugins/installed (200 plugins)", Method::GET, "/api/plugins/installed", None, None, 200),
        case(
            "POST /api/plugins/resolve (1 more on 200)",
            Method::POST,
            "/api/plugins/resolve",
            Some(resolve),
            None,
            200,
        ),
        case(
            "POST /api/plugins/resolve (configure one)",
            Method::POST,
            "/api/plugins/resolve",
            Some(configure),
            None,
            200,
        ),
        case(
            "POST /api/plugins/operations (3, dry run)",
            Method::POST,
            "/api/plugins/operations",
            Some(bulk),
            None,
            200,
        ),
        case("GET /api/plugins/dependencies (400 packages)", Method::GET, "/api/plugins/dependencies", None, None, 200),
        case(
            "GET /api/plugins/compatibility?release=1.44.0",
            Method::GET,
            "/api/plugins/compatibility?release=1.44.0",
            None,
            None,
            200,
        ),
        case("GET /api/plugins/metrics", Method::GET, "/api/plugins/metrics", None, None, 200),
        case("GET /api/plugins/recommendations", Method::GET, "/api/plugins/recommendations", None, None, 200),
        case("POST /api/plugins/health (heartbeat)", Method::POST, "/api/plugins/health", Some(report), None, 204),
        case("GET /api/plugins/health (200 plugins)", Method::GET, "/api/plugins/health", None, None, 200),
        case(
            "GET dynamic-plugins.yaml (400 entries)",
            Method::GET,
            "/api/plugins/dynamic-plugins.yaml",
            None,
            None,
            200,
        ),
        case(
            "GET dynamic-plugins.yaml, If-None-Match (304)",
            Method::GET,
            "/api/plugins/dynamic-plugins.yaml",
            None,
            Some(&etag),
            304,
        ),
    ];
    println!("{:<48} {:>9} {:>9} {:>9} {:>9}", "plugins (HTTP)", "cold ms", "p50 ms", "p95 ms", "max ms");
    for Case { label, method, path, body, etag, status } in cases {
        // Cold: the first call after the directory changed, which every server reloads.
        db.with_control(|conn| Box::pin(async move { repo::bump(conn, None).await.map_err(AppError::from) })).await?;
        let mut timings: Vec<Duration> = Vec::with_capacity(samples + 1);
        for _ in 0..=samples {
            let started = Instant::now();
            let response =
                call(method.clone(), &path, body.clone(), etag.as_deref()).await.map_err(AppError::internal)?;
            let answered = response.status().as_u16();
            response.bytes().await.map_err(AppError::internal)?;
            timings.push(started.elapsed());
            if answered != status {
                return Err(AppError::internal(format!("{label}: {answered}")));
            }
        }
        let cold = timings.remove(0);
        timings.sort();
        println!("{}", row(label, &(cold, timings)));
    }
    Ok(())
}
