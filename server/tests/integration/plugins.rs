//! The plugin marketplace against the real stack and an npm registry on loopback (an axum
//! server built here, serving packuments with the real metadata of real plugins): the bundled
//! directory, the registry refresh, compatibility with Backstage releases, conflicts explained,
//! revisions (install → update → rollback gives back the same `dynamic-plugins.yaml`), two
//! admins changing the set at once, and what a runtime's key may read.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Method, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::support::{TestApp, TestTenant};
use app::auth::model::Role;
use app::fetch::FetchPolicy;
use app::notifications::model::NotificationKind;
use app::plugins::{artifacts, service};

pub(crate) const RADAR: &str = "@backstage-community/plugin-tech-radar";
pub(crate) const RADAR_BACKEND: &str = "@backstage-community/plugin-tech-radar-backend";
pub(crate) const RADAR_COMMON: &str = "@backstage-community/plugin-tech-radar-common";
pub(crate) const ARGO: &str = "@roadiehq/backstage-plugin-argo-cd";

fn version(deps: Value, peers: Value, backstage: Value, published: &str) -> Value {
    json!({
        "dependencies": deps, "peerDependencies": peers, "backstage": backstage,
        "published": published,
    })
}

/// Packuments of the tech-radar family and Roadie's Argo CD plugin, as the partial mirror
/// serves them: only some versions, times with offsets, `latest` not the highest.
pub(crate) fn packuments() -> HashMap<String, Value> {
    let react = json!({"react": "^16.13.1 || ^17.0.0 || ^18.0.0", "react-router-dom": "6.0.0-beta.0  || ^6.3.0"});
    let radar_packages = json!({"role": "frontend-plugin", "pluginId": "tech-radar",
        "pluginPackages": [RADAR, RADAR_BACKEND, RADAR_COMMON]});
    let backend_packages = json!({"role": "backend-plugin", "pluginId": "tech-radar",
        "pluginPackages": [RADAR, RADAR_BACKEND, RADAR_COMMON]});
    let mut radar = HashMap::new();
    radar.insert("1.14.0", version(
        json!({RADAR_COMMON: "^1.13.0", "@backstage/core-plugin-api": "^1.12.1", "@backstage/frontend-plugin-api": "^0.13.2",
               "@backstage/core-components": "^0.18.4", "@material-ui/core": "^4.12.2"}),
        react.clone(), radar_packages.clone(), "2025-12-10T09:00:00.000000+00:00"));
    radar.insert("1.13.0", version(
        json!({RADAR_COMMON: "^1.12.0", "@backstage/core-plugin-api": "^1.12.0", "@backstage/frontend-plugin-api": "^0.13.0"}),
        react.clone(), radar_packages.clone(), "2025-10-21T12:00:00Z"));
    radar.insert("1.11.0", version(
        json!({RADAR_COMMON: "^1.10.0", "@backstage/core-plugin-api": "^1.11.0", "@backstage/frontend-plugin-api": "^0.12.0"}),
        react.clone(), radar_packages.clone(), "2025-08-01T12:00:00Z"));
    let mut backend = HashMap::new();
    let mut newest_backend = version(
        json!({RADAR_COMMON: "^1.21.0", "@backstage/backend-plugin-api": "^1.10.0", "@backstage/config": "^1.3.6"}),
        json!({}),
        backend_packages.clone(),
        "2026-03-28T16:08:47.930000+00:00",
    );
    newest_backend["configSchema"] = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"techRadar": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}}});
    backend.insert("1.21.0", newest_backend);
    backend.insert(
        "1.12.0",
        version(
            json!({RADAR_COMMON: "^1.7.0", "@backstage/backend-plugin-api": "^1.4.0"}),
            json!({}),
            backend_packages,
            "2025-06-01T12:00:00Z",
        ),
    );
    let mut common = HashMap::new();
    for (v, at) in [
        ("1.7.0", "2025-03-01"),
        ("1.9.1", "2025-05-01"),
        ("1.10.0", "2025-07-01"),
        ("1.12.0", "2025-09-01"),
        ("1.13.0", "2025-11-01"),
    ] {
        common.insert(
            v,
            version(
                json!({"zod": "^3.22.4"}),
                json!({}),
                json!({"role": "common-library"}),
                &format!("{at}T00:00:00Z"),
            ),
        );
    }
    let argo_packages = json!({"role": "frontend-plugin", "pluginId": "argocd"});
    let mut argo = HashMap::new();
    let mut newest_argo = version(
        json!({"@backstage/catalog-model": "^1.7.5", "@backstage/core-compat-api": "^0.5.3", "@backstage/core-components": "^0.18.2",
               "@backstage/core-plugin-api": "^1.11.1", "@backstage/frontend-plugin-api": "^0.12.1",
               "@backstage/plugin-catalog-react": "^1.21.2"}),
        json!({"react": "^16.13.1 || ^17.0.0 || ^18.0.0", "react-dom": "^16.13.1 || ^17.0.0 || ^18.0.0",
               "react-router": "6.0.0-beta.0  || ^6.3.0", "react-router-dom": "6.0.0-beta.0  || ^6.3.0"}),
        argo_packages.clone(),
        "2025-11-03T10:00:00Z",
    );
    newest_argo["configSchema"] = json!("config.d.ts");
    argo.insert("2.12.5", newest_argo);
    argo.insert(
        "2.9.0",
        version(
            json!({"@backstage/core-plugin-api": "^1.9.0", "@backstage/core-components": "^0.14.0"}),
            react,
            argo_packages,
            "2025-01-15T10:00:00Z",
        ),
    );

    let mut out = HashMap::new();
    for (name, versions, latest) in [
        (RADAR, radar, "1.14.0"),
        (RADAR_BACKEND, backend, "1.12.0"),
        (RADAR_COMMON, common, "1.13.0"),
        (ARGO, argo, "2.12.5"),
    ] {
        let time: serde_json::Map<String, Value> =
            versions.iter().map(|(v, m)| (v.to_string(), m["published"].clone())).collect();
        let versions: serde_json::Map<String, Value> = versions
            .into_iter()
            .map(|(v, mut m)| {
                m.as_object_mut().unwrap().remove("published");
                m["name"] = json!(name);
                m["version"] = json!(v);
                if name == RADAR_BACKEND && m.get("configSchema").is_none() {
                    m["configSchema"] = json!("config.schema.json");
                }
                let integrity = artifacts::sri(&fixture_tarball(name, v));
                m["dist"] = json!({"tarball": artifacts::tarball_url("https://registry.example", name, v), "integrity": integrity});
                (v.to_owned(), m)
            })
            .collect();
        out.insert(
            name.to_owned(),
            json!({"name": name, "dist-tags": {"latest": latest}, "time": time, "versions": versions}),
        );
    }
    out
}

/// A version's tarball as the fixture registry publishes it: the same bytes every time, so every
/// test's registry publishes the same integrity into the shared directory.
pub(crate) fn fixture_tarball(name: &str, version: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let manifest = json!({"name": name, "version": version, "main": "dist/index.cjs.js"}).to_string();
    let mut files =
        vec![("package/package.json", manifest), ("package/dist/index.cjs.js", "module.exports = {};\n".into())];
    if name == RADAR_BACKEND {
        // The shape of tech-radar-backend's own schema: `techRadar.url` is required.
        let schema = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {
            "techRadar": {"type": "object", "required": ["url"], "properties": {
                "url": {"type": "string"}, "token": {"type": "string"}}}}});
        files.push(("package/config.schema.json", schema.to_string()));
    }
    for (path, contents) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(contents.len() as u64);
        builder.append_data(&mut header, path, contents.as_bytes()).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &builder.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// An npm registry on loopback serving `packuments` (scoped names as `@scope%2fname`) and their
/// tarballs (`/<name>/-/<file>.tgz`).
pub(crate) async fn registry(packuments: HashMap<String, Value>) -> String {
    tampering_registry(packuments, None).await
}

/// The same registry, serving other bytes than it published for one version, as a compromised
/// mirror would.
async fn tampering_registry(packuments: HashMap<String, Value>, tampered: Option<(&str, &str)>) -> String {
    type Served = (HashMap<String, Value>, Option<(String, String)>);
    async fn serve(State(served): State<Arc<Served>>, Path(path): Path<String>) -> axum::response::Response {
        let (all, tampered) = served.as_ref();
        let path = path.replace("%2f", "/").replace("%2F", "/");
        if let Some((name, file)) = path.split_once("/-/") {
            let base = name.rsplit('/').next().unwrap();
            let version =
                file.strip_prefix(&format!("{base}-")).and_then(|f| f.strip_suffix(".tgz")).unwrap_or_default();
            if all.get(name).is_none_or(|doc| doc["versions"].get(version).is_none()) {
                return StatusCode::NOT_FOUND.into_response();
            }
            let mut bytes = fixture_tarball(name, version);
            if tampered.as_ref().is_some_and(|(n, v)| n == name && v == version) {
                bytes = fixture_tarball(name, &format!("{version}-evil"));
            }
            return bytes.into_response();
        }
        match all.get(&path) {
            Some(doc) => Json(doc.clone()).into_response(),
            None => (StatusCode::NOT_FOUND, Json(json!({"error": "Not found"}))).into_response(),
        }
    }
    let tampered = tampered.map(|(n, v)| (n.to_owned(), v.to_owned()));
    let app = Router::new().route("/{*name}", get(serve)).with_state(Arc::new((packuments, tampered)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The directory refreshed from the fixture registry (shared by every test: the same data).
pub(crate) async fn refreshed(app: &TestApp) {
    let url = registry(packuments()).await;
    let policy = FetchPolicy { allow_private_networks: true };
    let only: Vec<String> = [RADAR, RADAR_BACKEND, ARGO].iter().map(|s| s.to_string()).collect();
    let report = service::refresh(&app.db, &policy, &url, &only).await.expect("refresh");
    assert_eq!(report.packages, 4, "the three named and -common, which tech-radar names as its own: {report:?}");
    assert!(report.failed.is_empty() && report.not_found.is_empty(), "{report:?}");
}

pub(crate) async fn send(
    app: &TestApp,
    t: &TestTenant,
    cookie: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, &t.host)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.send(request).await;
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

pub(crate) async fn platform(app: &TestApp, t: &TestTenant, cookie: &str, release: &str) {
    let (status, body) =
        send(app, t, cookie, Method::PUT, "/api/plugins/platform", json!({"runtime": "rhdh", "release": release}))
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

pub(crate) async fn yaml(app: &TestApp, t: &TestTenant, cookie: &str) -> (String, String) {
    let response = app.get(&t.host, "/api/plugins/dynamic-plugins.yaml", Some(cookie)).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let etag = response.headers[header::ETAG].to_str().unwrap().to_owned();
    (response.body, etag)
}

#[tokio::test]
async fn the_bundled_directory_is_browsable_with_facets_and_search() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (status, all, _) = app.get_json(&t, &cookie, "/api/plugins").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let total = all["total"].as_u64().unwrap();
    assert!(total > 300, "the bundled directory: {total}");
    assert_eq!(all["items"].as_array().unwrap().len() as u64, total);
    assert_eq!(all["platform"]["release"], "1.53.0", "the newest release until the tenant chooses");

    let (_, supported, _) = app.get_json(&t, &cookie, "/api/plugins?support=supported").await;
    let items = supported["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|p| p["support"] == "supported"));
    // A facet's counts are what choosing each value would show.
    let facet = all["facets"]["support"].as_array().unwrap();
    let count = facet.iter().find(|f| f["value"] == "supported").unwrap()["count"].as_u64().unwrap();
    assert_eq!(count, items.len() as u64);

    let (_, found, _) = app.get_json(&t, &cookie, "/api/plugins?q=tech%20radar").await;
    assert_eq!(found["items"][0]["id"], "tech-radar", "{found}");

    let (status, detail, _) = app.get_json(&t, &cookie, "/api/plugins/tech-radar").await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail["docs_html"].as_str().unwrap().contains("<p>"), "documentation rendered from Markdown");
    assert_eq!(detail["releases"].as_array().unwrap().len(), 8, "the newest release of the last eight lines");
    let (status, _, _) = app.get_json(&t, &cookie, "/api/plugins/no-such-plugin").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app.get_json(&t, &cookie, "/api/plugins?q=%00").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "NUL bytes are refused");
}

#[tokio::test]
async fn compatibility_follows_the_release_and_a_conflict_is_explained_without_changing_anything() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    platform(&app, &t, &cookie, "1.42.0").await;

    let (_, detail, _) = app.get_json(&t, &cookie, "/api/plugins/roadie-argocd").await;
    let frontend = detail["packages"].as_array().unwrap().iter().find(|p| p["name"] == ARGO).unwrap();
    let row = |v: &str| frontend["versions"].as_array().unwrap().iter().find(|r| r["version"] == v).unwrap().clone();
    assert_eq!(row("2.12.5")["compat"], "Incompatible");
    assert!(row("2.12.5")["problems"].to_string().contains("core-plugin-api"), "{}", row("2.12.5"));
    assert_eq!(row("2.9.0")["compat"], "Compatible");
    assert_eq!(row("2.12.5")["schema"], "Unavailable", "config.d.ts only");
    let published = row("2.12.5")["published"].as_str().unwrap().to_owned();
    assert!(published.starts_with("2025-11-03"), "{published}");

    // 2.12.5 asked for by name on 1.42: refused, explained, and the way out named.
    let ask = json!({"plugin": "roadie-argocd", "versions": {ARGO: "2.12.5"}});
    let (status, refused) = send(&app, &t, &cookie, Method::POST, "/api/plugins/install", ask.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let explanation = refused["explanation"].to_string();
    assert!(explanation.contains("core-plugin-api") && explanation.contains("1.42.0"), "{refused}");
    let suggestions = refused["suggestions"].to_string();
    assert!(suggestions.contains("1.44.0") && suggestions.contains("2.9.0"), "{refused}");
    assert_eq!(refused["alternatives"][0], json!({"package": ARGO, "version": "2.9.0"}));
    let (_, installed, _) = app.get_json(&t, &cookie, "/api/plugins/installed").await;
    assert_eq!(installed["platform"]["current_revision"], 0, "nothing changed");
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions
        .iter()
        .any(|(a, target, outcome)| a == "plugin.changed" && target == "roadie-argocd" && outcome == "failure"));

    // The dry run says what the suggested version would do; then it is installed.
    let ok = json!({"operation": "install", "plugin": "roadie-argocd", "versions": {ARGO: "2.9.0"}});
    let (status, resolved) = send(&app, &t, &cookie, Method::POST, "/api/plugins/resolve", ok).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["resolution"]["changes"][0]["after"], "2.9.0");
    let (status, made) = send(
        &app,
        &t,
        &cookie,
        Method::POST,
        "/api/plugins/install",
        json!({"plugin": "roadie-argocd", "versions": {ARGO: "2.9.0"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["revision"], 1);

    // The backend whose host API no release ships, and whose -common is not served, is refused.
    let (status, refused) = send(
        &app,
        &t,
        &cookie,
        Method::POST,
        "/api/plugins/install",
        json!({"plugin": "tech-radar", "versions": {RADAR_BACKEND: "1.21.0"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["explanation"].to_string().contains("backend-plugin-api"), "{refused}");
}

#[tokio::test]
async fn install_update_rollback_gives_back_the_same_file_and_history_compares_any_two() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    platform(&app, &t, &cookie, "1.46.0").await;

    // tech-radar 1.13.0 with its backend at the newest fitting version, -common pulled in.
    let (status, made) = send(&app, &t, &cookie, Method::POST, "/api/plugins/install",
        json!({"plugin": "tech-radar", "versions": {RADAR: "1.13.0", RADAR_BACKEND: "*"}, "reason": "radar for the guild"})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (first, first_tag) = yaml(&app, &t, &cookie).await;
    // YAML quotes a scalar that starts with `@`.
    assert!(first.contains(&format!("package: '{RADAR}@1.13.0'")), "{first}");
    assert!(first.contains(&format!("package: '{RADAR_BACKEND}@1.12.0'")), "{first}");
    let integrity = artifacts::sri(&fixture_tarball(RADAR, "1.13.0"));
    assert!(first.contains(&format!("integrity: {integrity}")), "{first}");
    assert!(!first.contains(RADAR_COMMON), "libraries come with their plugins, not as entries: {first}");
    let (_, installed, _) = app.get_json(&t, &cookie, "/api/plugins/installed").await;
    let rows = installed["installed"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["package"]["package"] == RADAR_COMMON && r["package"]["version"] == "1.13.0"),
        "{installed}"
    );
    let radar = rows.iter().find(|r| r["package"]["package"] == RADAR).unwrap();
    assert_eq!(radar["update"], "1.14.0");

    // A runtime polling with the ETag is told nothing changed.
    let request = Request::get("/api/plugins/dynamic-plugins.yaml")
        .header(header::HOST, &t.host)
        .header(header::COOKIE, &cookie)
        .header(header::IF_NONE_MATCH, &first_tag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::NOT_MODIFIED);

    let (status, updated) = send(&app, &t, &cookie, Method::PUT, "/api/plugins/update", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{updated}");
    let (second, second_tag) = yaml(&app, &t, &cookie).await;
    assert!(second.contains(&format!("{RADAR}@1.14.0")) && second_tag != first_tag, "{second}");
    let (status, _) =
        send(&app, &t, &cookie, Method::POST, "/api/plugins/toggle", json!({"plugin": "tech-radar", "disabled": true}))
            .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(yaml(&app, &t, &cookie).await.0.contains("disabled: true"));

    let (status, back) = send(&app, &t, &cookie, Method::POST, "/api/plugins/rollback", json!({"revision": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{back}");
    assert_eq!(back["revision"], 4);
    let (restored, restored_tag) = yaml(&app, &t, &cookie).await;
    assert_eq!(restored, first, "byte for byte");
    assert_eq!(restored_tag, first_tag);

    let (_, changes, _) = app.get_json(&t, &cookie, "/api/plugins/revisions?from=1&to=3").await;
    let radar_change = changes.as_array().unwrap().iter().find(|c| c["package"] == RADAR).unwrap();
    assert_eq!(radar_change["before"], "1.13.0");
    assert_eq!(radar_change["after"], "1.14.0");
    assert_eq!(radar_change["notes"], json!(["disabled"]));
    let (_, history, _) = app.get_json(&t, &cookie, "/api/plugins/installed").await;
    let history = history["history"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[0]["restores"], 1);
    assert_eq!(history[3]["reason"], "radar for the guild");

    let (status, _) = send(&app, &t, &cookie, Method::POST, "/api/plugins/rollback", json!({"revision": 4})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the same set is not a new revision");
    let (status, _) =
        send(&app, &t, &cookie, Method::DELETE, "/api/plugins/uninstall", json!({"plugin": "tech-radar"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(yaml(&app, &t, &cookie).await.0.trim(), "plugins: []");
    let actions = app.audit_actions(&t.tenant).await;
    let changed = actions.iter().filter(|(a, _, o)| a == "plugin.changed" && o == "success").count();
    assert_eq!(changed, 5, "every revision is audited");
    assert!(actions.iter().any(|(a, _, _)| a == "plugin.platform_changed"));
}

#[tokio::test]
async fn two_admins_changing_the_set_at_once_keep_both_changes() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    platform(&app, &t, &cookie, "1.46.0").await;
    let email = format!("second-admin@{}", t.host.replace(".localhost", ".example.com"));
    let (_, other_cookie) = app.member(&t, &cookie, &email, Role::Admin).await;
    let radar = json!({"plugin": "tech-radar", "versions": {RADAR: "1.14.0"}});
    let argo = json!({"plugin": "roadie-argocd", "versions": {ARGO: "2.9.0"}});
    let (a, b) = tokio::join!(
        send(&app, &t, &cookie, Method::POST, "/api/plugins/install", radar),
        send(&app, &t, &other_cookie, Method::POST, "/api/plugins/install", argo),
    );
    assert_eq!((a.0, b.0), (StatusCode::CREATED, StatusCode::CREATED), "{} {}", a.1, b.1);
    let mut revisions = [a.1["revision"].as_i64().unwrap(), b.1["revision"].as_i64().unwrap()];
    revisions.sort();
    assert_eq!(revisions, [1, 2]);
    let (file, _) = yaml(&app, &t, &cookie).await;
    assert!(file.contains(&format!("{RADAR}@1.14.0")) && file.contains(&format!("{ARGO}@2.9.0")), "{file}");
}

#[tokio::test]
async fn a_runtime_key_reads_its_tenants_file_and_nothing_else() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (other, other_cookie) = app.signed_in_tenant().await;
    let (_, reader) = app.create_key(&t, &cookie, "runtime", &["plugins:read"]).await;
    let (_, catalog_only) = app.create_key(&t, &cookie, "catalog", &["catalog:read"]).await;
    let (_, foreign) = app.create_key(&other, &other_cookie, "runtime", &["plugins:read"]).await;
    let with_key = |key: String| {
        Request::get("/api/plugins/dynamic-plugins.yaml")
            .header(header::HOST, &t.host)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap()
    };
    let ok = app.send(with_key(reader.clone())).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.headers[header::CONTENT_TYPE], "application/yaml; charset=utf-8");
    assert_eq!(app.send(with_key(catalog_only)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.send(with_key(foreign)).await.status, StatusCode::UNAUTHORIZED);
    let install = Request::post("/api/plugins/install")
        .header(header::HOST, &t.host)
        .header(header::AUTHORIZATION, format!("Bearer {reader}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"plugin":"tech-radar"}"#))
        .unwrap();
    assert_eq!(app.send(install).await.status, StatusCode::FORBIDDEN, "plugins:read cannot change the set");
}

/// Backstage 1.46.0 with tech-radar 1.13.0 and its backend at the newest version that fits.
async fn radar_on_1_46(app: &TestApp, t: &TestTenant, cookie: &str) {
    platform(app, t, cookie, "1.46.0").await;
    let radar = json!({"plugin": "tech-radar", "versions": {RADAR: "1.13.0", RADAR_BACKEND: "*"}});
    let (status, made) = send(app, t, cookie, Method::POST, "/api/plugins/install", radar).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
}

/// Posts a runtime's report with `key`.
async fn report(app: &TestApp, t: &TestTenant, key: &str, body: Value) -> (StatusCode, String) {
    let request = Request::post("/api/plugins/health")
        .header(header::HOST, &t.host)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.send(request).await;
    (response.status, response.body)
}

fn row<'a>(health: &'a Value, package: &str) -> &'a Value {
    health["packages"].as_array().unwrap().iter().find(|r| r["package"]["package"] == package).unwrap()
}

/// The kinds of the events published in `t`, oldest first.
async fn published(app: &TestApp, t: &TestTenant) -> Vec<String> {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                app::db::schema::events::table
                    .order(app::db::schema::events::id)
                    .select(app::db::schema::events::kind)
                    .load(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn runtimes_report_what_they_run_and_failures_drift_changes_and_updates_are_told() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (other, other_cookie) = app.signed_in_tenant().await;
    radar_on_1_46(&app, &t, &cookie).await;

    let (_, health, _) = app.get_json(&t, &cookie, "/api/plugins/health").await;
    assert_eq!(row(&health, RADAR)["health"]["status"], "unreported", "{health}");
    assert_eq!(row(&health, RADAR_COMMON)["health"]["status"], "library");

    let (_, reporter) = app.create_key(&t, &cookie, "rhdh", &["plugins:read", "plugins:report"]).await;
    let (_, reader) = app.create_key(&t, &cookie, "reader", &["plugins:read"]).await;
    let (_, foreign) = app.create_key(&other, &other_cookie, "rhdh", &["plugins:report"]).await;
    let first = json!({"instance": "rhdh-0", "plugins": [
        {"package": RADAR, "version": "1.13.0", "state": "loaded"},
        {"package": RADAR_BACKEND, "version": "1.12.0", "state": "failed", "error": "Cannot find module 'knex'"},
    ]});
    assert_eq!(report(&app, &t, &reader, first.clone()).await.0, StatusCode::FORBIDDEN, "plugins:read reports nothing");
    assert_eq!(report(&app, &t, &foreign, first.clone()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(report(&app, &t, &reporter, first.clone()).await.0, StatusCode::ACCEPTED);
    assert_eq!(report(&app, &t, &reporter, first).await.0, StatusCode::NO_CONTENT, "the same report is a heartbeat");

    let (_, health, _) = app.get_json(&t, &cookie, "/api/plugins/health").await;
    assert_eq!(row(&health, RADAR)["health"]["status"], "running", "{health}");
    let failed = &row(&health, RADAR_BACKEND)["health"];
    assert_eq!(
        (failed["status"].as_str(), failed["error"].as_str()),
        (Some("failed"), Some("Cannot find module 'knex'"))
    );
    assert_eq!(health["runtimes"][0]["loaded"], 1);
    assert_eq!(health["runtimes"][0]["failed"], 1);

    // A second runtime on another version, with a package the revision does not hold.
    let second = json!({"instance": "rhdh-1", "plugins": [
        {"package": RADAR, "version": "1.14.0", "state": "loaded"},
        {"package": RADAR_BACKEND, "version": "1.12.0", "state": "loaded"},
        {"package": "@acme/plugin-extra", "version": "0.1.0", "state": "loaded"},
    ]});
    assert_eq!(report(&app, &t, &reporter, second).await.0, StatusCode::ACCEPTED);
    let (_, health, _) = app.get_json(&t, &cookie, "/api/plugins/health").await;
    let drift = &row(&health, RADAR)["health"];
    assert_eq!(drift["status"], "drift", "{health}");
    assert_eq!(
        (drift["instance"].as_str(), drift["detail"].as_str()),
        (Some("rhdh-1"), Some("runs 1.14.0 instead of 1.13.0"))
    );
    assert_eq!(health["unexpected"], json!(["rhdh-1 runs @acme/plugin-extra 0.1.0, which revision 1 does not hold"]));
    let (_, other_health, _) = app.get_json(&other, &other_cookie, "/api/plugins/health").await;
    assert_eq!(other_health["runtimes"], json!([]), "another tenant's runtimes are its own");

    // Bad reports change nothing.
    let bad = [
        json!({"plugins": [{"package": "a\u{0}b", "version": "1.0.0", "state": "loaded"}]}),
        json!({"plugins": [{"package": "a", "version": "1.0.0", "state": "loaded"}, {"package": "a", "version": "1.0.1", "state": "loaded"}]}),
        json!({"plugins": [{"package": "a", "version": "1.0.0", "state": "running"}]}),
        json!({"plugins": [], "extra": true}),
        json!({"instance": "two words", "plugins": []}),
        json!({"plugins": (0..2_001).map(|i| json!({"package": format!("p{i}"), "version": "1.0.0", "state": "loaded"})).collect::<Vec<_>>()}),
    ];
    for body in bad {
        let (status, text) = report(&app, &t, &reporter, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    }
    let (_, after, _) = app.get_json(&t, &cookie, "/api/plugins/health").await;
    assert_eq!(after["runtimes"], health["runtimes"]);

    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(a, _, _)| a == "plugin.health_reported").count(), 2, "changes, not heartbeats");
    let kinds = published(&app, &t).await;
    assert!(kinds.contains(&"plugin:installed".to_owned()), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "plugin:health").count(), 2, "{kinds:?}");
    let metrics = app.state.plugins.metrics.render();
    assert!(
        metrics.contains("plugin_changes_total{plugin=\"tech-radar\",operation=\"install\",outcome=\"applied\"}"),
        "{metrics}"
    );

    // A registry refresh tells the admins of the update that fits, once per version.
    let titles = |cookie: String| {
        let app = &app;
        let host = t.host.clone();
        async move {
            let page: app::notifications::model::NotificationsPage =
                app.call(&host, "/api/notifications", &[], Some(&cookie)).await.json();
            page.items
                .into_iter()
                .filter(|n| n.kind == NotificationKind::PluginUpdate)
                .map(|n| n.body)
                .collect::<Vec<_>>()
        }
    };
    refreshed(&app).await;
    let told = titles(cookie.clone()).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains(&format!("{RADAR} 1.13.0 → 1.14.0")), "{told:?}");
    refreshed(&app).await;
    assert_eq!(titles(cookie.clone()).await.len(), 1, "the same version is not told twice");
}

#[tokio::test]
async fn tarballs_are_verified_before_a_revision_holds_them_and_the_tenant_registry_serves_them() {
    let app = TestApp::init().npm_registry(&registry(packuments()).await).start().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (other, other_cookie) = app.signed_in_tenant().await;
    radar_on_1_46(&app, &t, &cookie).await;

    let (_, key) = app.create_key(&t, &cookie, "runtime", &["plugins:read"]).await;
    let (_, foreign) = app.create_key(&other, &other_cookie, "runtime", &["plugins:read"]).await;
    let npm = |path: &str, key: &str| {
        Request::get(format!("/api/plugins/npm/{path}"))
            .header(header::HOST, &t.host)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap()
    };
    let doc = app.send(npm("@backstage-community%2fplugin-tech-radar", &key)).await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.body);
    let doc: Value = serde_json::from_str(&doc.body).unwrap();
    let published = &doc["versions"]["1.13.0"]["dist"];
    assert_eq!(published["integrity"], artifacts::sri(&fixture_tarball(RADAR, "1.13.0")));
    let tarball = published["tarball"].as_str().unwrap();
    let expected = format!("http://{}/api/plugins/npm/{RADAR}/-/plugin-tech-radar-1.13.0.tgz", t.host);
    assert_eq!(tarball, expected);
    assert_eq!(doc["versions"].as_object().unwrap().len(), 1, "only the revision's version");
    let bytes = app.send(npm(&format!("{RADAR}/-/plugin-tech-radar-1.13.0.tgz"), &key)).await;
    assert_eq!(bytes.status, StatusCode::OK);
    assert_eq!(bytes.bytes.as_ref(), fixture_tarball(RADAR, "1.13.0").as_slice(), "the bytes Beacon verified");
    let (_, health, _) = app.get_json(&t, &cookie, "/api/plugins/health").await;
    assert!(health["packages"].as_array().unwrap().iter().all(|r| r["verified"] == true), "{health}");
    let common = app.send(npm(RADAR_COMMON, &key)).await;
    assert_eq!(common.status, StatusCode::OK, "the libraries a plugin needs are served too");
    assert_eq!(
        app.send(npm(&format!("{RADAR}/-/plugin-tech-radar-1.14.0.tgz"), &key)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.send(npm(ARGO, &key)).await.status, StatusCode::NOT_FOUND, "not in the set");
    assert_eq!(app.send(npm(RADAR, &foreign)).await.status, StatusCode::UNAUTHORIZED);

    // The real npm client packs the plugin from the tenant's registry and checks its integrity.
    // Node cannot resolve `*.localhost`: npm reaches Beacon as its HTTP proxy, which sends
    // the tenant's host name in each request.
    let port = app.serve().await.port();
    let dir = std::env::temp_dir().join(format!("beacon-npm-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let origin = format!("{}:{port}", t.host);
    let npmrc = format!(
        "registry=http://{origin}/api/plugins/npm/\nproxy=http://127.0.0.1:{port}/\n//{origin}/api/plugins/npm/:_authToken={key}\n"
    );
    std::fs::write(dir.join(".npmrc"), npmrc).unwrap();
    let (run_in, spec) = (dir.clone(), format!("{RADAR}@1.13.0"));
    let packed = tokio::task::spawn_blocking(move || {
        std::process::Command::new("npm")
            .args(["pack", &spec, "--userconfig", ".npmrc", "--cache", "npm-cache", "--no-audit", "--no-fund"])
            .current_dir(run_in)
            .output()
            .expect("npm runs")
    })
    .await
    .unwrap();
    assert!(packed.status.success(), "npm pack: {}", String::from_utf8_lossy(&packed.stderr));
    let file = std::fs::read(dir.join("backstage-community-plugin-tech-radar-1.13.0.tgz")).unwrap();
    assert_eq!(file, fixture_tarball(RADAR, "1.13.0"), "npm got the verified bytes");
    let _ = std::fs::remove_dir_all(&dir);

    // A registry serving other bytes than it published: refused, nothing changes, audited.
    let compromised =
        TestApp::init().npm_registry(&tampering_registry(packuments(), Some((ARGO, "2.9.0"))).await).start().await;
    let (before, _) = yaml(&app, &t, &cookie).await;
    let argo = json!({"plugin": "roadie-argocd", "versions": {ARGO: "2.9.0"}});
    let (status, refused) = send(&compromised, &t, &cookie, Method::POST, "/api/plugins/install", argo).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let why = refused["explanation"].to_string();
    assert!(why.contains(&format!("{ARGO} 2.9.0 was refused")) && why.contains("not the published sha512-"), "{why}");
    assert_eq!(yaml(&app, &t, &cookie).await.0, before, "the revision did not change");
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.iter().any(|(a, target, o)| a == "plugin.changed" && target == "roadie-argocd" && o == "failure"));
}

#[tokio::test]
async fn configuration_is_checked_against_the_schema_in_the_verified_tarball_before_any_revision() {
    let app = TestApp::init().npm_registry(&registry(packuments()).await).start().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    radar_on_1_46(&app, &t, &cookie).await;
    let (before, _) = yaml(&app, &t, &cookie).await;
    let put = |package: &'static str, config: Value| {
        let body = json!({"package": package, "config": config});
        let (app, t, cookie) = (&app, &t, &cookie);
        async move { send(app, t, cookie, Method::PUT, "/api/plugins/config", body).await }
    };

    // Refused by the schema inside the verified tarball, and for a secret in plain text.
    let refusals = [
        (json!({"techRadar": {"url": 7}}), "`/techRadar/url`"),
        (json!({"techRadar": {}}), "`/techRadar`: \\\"url\\\" is a required property"),
        (
            json!({"techRadar": {"url": "https://example.com/radar.json", "token": "s3cr3t"}}),
            "`techRadar.token` holds a secret in plain text",
        ),
    ];
    for (config, why) in refusals {
        let (status, refused) = put(RADAR_BACKEND, config).await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert!(refused["explanation"].to_string().contains(why), "{why}: {refused}");
    }
    assert_eq!(yaml(&app, &t, &cookie).await.0, before, "nothing changed");

    // YAML text that passes: a new revision, and the runtime's file carries it.
    let good = "techRadar:\n  url: https://example.com/radar.json\n  token: ${RADAR_TOKEN}\n";
    let (status, made) = put(RADAR_BACKEND, json!(good)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (file, _) = yaml(&app, &t, &cookie).await;
    assert!(file.contains("pluginConfig:") && file.contains("url: https://example.com/radar.json"), "{file}");
    assert!(file.contains("token: ${RADAR_TOKEN}"), "{file}");

    // Two packages setting one key differently: refused before RHDH would refuse to start.
    let (status, refused) = put(RADAR, json!({"techRadar": {"url": "https://other.example.com/radar.json"}})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["explanation"].to_string().contains("both set `techRadar.url`"), "{refused}");
    // The same value is no conflict; a package without a schema is checked as YAML only.
    let (status, same) = put(RADAR, json!({"techRadar": {"url": "https://example.com/radar.json"}})).await;
    assert_eq!(status, StatusCode::CREATED, "{same}");
    assert!(same["resolution"]["warnings"].to_string().contains("checked as YAML only"), "{same}");

    for bad in [json!("a: ["), json!("- a\n- b"), json!("a: \u{0}"), json!(7)] {
        let (status, body) = put(RADAR, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (_, configs, _) = app.get_json(&t, &cookie, "/api/plugins/config").await;
    assert_eq!(configs["packages"][RADAR_BACKEND]["techRadar"]["url"], "https://example.com/radar.json");
    let actions = app.audit_actions(&t.tenant).await;
    let refused = actions.iter().filter(|(a, _, o)| a == "plugin.changed" && o == "failure").count();
    assert_eq!(refused, 4, "every refusal is audited");
    let leaked: i64 = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                app::db::schema::audit_events::table
                    .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("details::text LIKE '%s3cr3t%'"))
                    .count()
                    .get_result(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
    assert_eq!(leaked, 0, "the audit log names the keys a configuration sets, never their values");
}

#[tokio::test]
async fn the_catalog_recommends_plugins_for_the_annotations_it_carries() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (_, empty, _) = app.get_json(&t, &cookie, "/api/plugins/recommendations").await;
    assert_eq!(empty, json!([]), "an empty catalog asks for nothing");
    let entity = |kind: &str, name: &str, annotations: Value| {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": kind,
               "metadata": {"name": name, "annotations": annotations},
               "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}})
    };
    let made = [
        entity(
            "Component",
            "payments",
            json!({"argocd/app-name": "payments", "github.com/project-slug": "acme/payments"}),
        ),
        entity("Component", "billing", json!({"argocd/app-name": "billing"})),
        entity("Component", "ledger", json!({"argocd/app-selector": "team=ledger"})),
        entity("Component", "plain", json!({})),
        entity("Resource", "db", json!({"backstage.io/techdocs-ref": "dir:."})),
    ];
    for body in made {
        let (status, created) = send(&app, &t, &cookie, Method::POST, "/api/catalog/entities", body).await;
        assert!(status.is_success(), "{created}");
    }
    let (_, list, _) = app.get_json(&t, &cookie, "/api/plugins/recommendations").await;
    let list = list.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|r| r["plugin"]["id"].as_str().unwrap()).collect();
    // Argo CD is one of its two plugins (the one that fits the release, else Red Hat's).
    assert!(["redhat-argocd", "roadie-argocd"].contains(&ids[0]), "{list:?}");
    assert_eq!(ids[1..], ["github-actions", "techdocs"], "most-asked first, one per family: {list:?}");
    let argo = list[0]["reason"].as_str().unwrap();
    assert!(argo.starts_with("2 of your 4 components carry `argocd/app-name`; "), "{argo}");
    assert_eq!(list[2]["reason"], "1 of your entities carries `backstage.io/techdocs-ref`; TechDocs is not installed.");

    // Installed (either Argo CD plugin), it is no longer recommended.
    platform(&app, &t, &cookie, "1.44.3").await;
    let (status, made) =
        send(&app, &t, &cookie, Method::POST, "/api/plugins/install", json!({"plugin": "roadie-argocd"})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (_, after, _) = app.get_json(&t, &cookie, "/api/plugins/recommendations").await;
    assert!(!after.to_string().contains("argocd"), "{after}");
}
