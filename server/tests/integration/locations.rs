//! Locations: register, read, refresh, orphans, ancestry, unregister, analyze, and the fetch
//! guards, against a real HTTP server on loopback whose files the tests change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use crate::support::EXAMPLES;
use crate::support::{TestApp, TestTenant};
use app::audit::service::AuditSource;
use app::catalog::locations;

type Files = Arc<Mutex<HashMap<String, String>>>;

/// Serves `files` at `http://127.0.0.1:<port>/<path>`; `/away` redirects to another host and
/// `/huge.yaml` is larger than any location may be.
async fn file_server(files: Files) -> u16 {
    async fn serve(State(files): State<Files>, Path(path): Path<String>) -> Response {
        match path.as_str() {
            "away" => Redirect::temporary("http://example.org/catalog-info.yaml").into_response(),
            "huge.yaml" => "#".repeat(6 * 1024 * 1024).into_response(),
            _ => match files.lock().unwrap().get(&path) {
                Some(text) => text.clone().into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            },
        }
    }
    let router = axum::Router::new().route("/{*path}", axum::routing::get(serve)).with_state(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    port
}

const ROOT: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: svc-a, description: first}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: nested}
spec: {targets: [./more/entities.yaml]}
";

const MORE: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: svc-b}
spec: {type: service, lifecycle: production, owner: team-a, providesApis: [svc-api]}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: svc-api}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./svc.oas.yaml}}
";

async fn allow(app: &TestApp, t: &TestTenant, pattern: &str) {
    locations::allow_host(&app.db, &t.tenant, &AuditSource::command_line(), pattern).await.unwrap();
}

async fn delete(app: &TestApp, t: &TestTenant, cookie: &str, path: &str) -> StatusCode {
    let request =
        Request::delete(path).header(header::HOST, &t.host).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
    app.send(request).await.status
}

fn annotation<'a>(entity: &'a Value, key: &str) -> Option<&'a str> {
    entity["metadata"]["annotations"][key].as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_location_is_registered_refreshed_orphaned_and_unregistered() {
    let files: Files = Arc::new(Mutex::new(HashMap::from([
        ("repo/catalog-info.yaml".to_owned(), ROOT.to_owned()),
        ("repo/more/entities.yaml".to_owned(), MORE.to_owned()),
        ("repo/more/svc.oas.yaml".to_owned(), "openapi: 3.0.0\n".to_owned()),
    ])));
    let port = file_server(files.clone()).await;
    let target = format!("http://127.0.0.1:{port}/repo/catalog-info.yaml");
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;

    // Not on the allowlist yet: refused with the reason, audited, nothing stored.
    let (status, refused) =
        app.post_json(&t, &cookie, "/api/catalog/locations", json!({ "type": "url", "target": target })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("allowlist"), "{refused}");
    assert!(app
        .audit_actions(&t.tenant)
        .await
        .iter()
        .any(|(a, _, o)| a == "catalog.location_refused" && o == "failure"));

    allow(&app, &t, &format!("127.0.0.1:{port}")).await;
    let (status, created) =
        app.post_json(&t, &cookie, "/api/catalog/locations", json!({ "type": "url", "target": target })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["location"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["location"]["target"], target);
    let mut names: Vec<&str> =
        created["entities"].as_array().unwrap().iter().map(|e| e["metadata"]["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(&names[1..], ["nested", "svc-a", "svc-api", "svc-b"]);
    assert!(names[0].starts_with("generated-"));

    let (_, api, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/api/default/svc-api").await;
    assert_eq!(api["spec"]["definition"], "openapi: 3.0.0\n", "$text is read relative to its file");
    assert_eq!(
        annotation(&api, "backstage.io/managed-by-location"),
        Some(format!("url:http://127.0.0.1:{port}/repo/more/entities.yaml").as_str())
    );
    assert_eq!(annotation(&api, "backstage.io/managed-by-origin-location"), Some(format!("url:{target}").as_str()));

    let (status, again) =
        app.post_json(&t, &cookie, "/api/catalog/locations", json!({ "type": "url", "target": target })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["name"], "ConflictError");

    let (_, list, _) = app.get_json(&t, &cookie, "/api/catalog/locations").await;
    assert_eq!(list, json!([{ "data": { "id": id, "type": "url", "target": target } }]));
    let (status, one, _) = app.get_json(&t, &cookie, &format!("/api/catalog/locations/{id}")).await;
    assert_eq!((status, one["target"].as_str()), (StatusCode::OK, Some(target.as_str())));
    let (_, by_entity, _) = app.get_json(&t, &cookie, "/api/catalog/locations/by-entity/component/default/svc-b").await;
    assert_eq!(by_entity["id"], id);

    // Ancestry: svc-b ← the nested Location ← the generated Location of the registration.
    let (_, ancestry, _) =
        app.get_json(&t, &cookie, "/api/catalog/entities/by-name/component/default/svc-b/ancestry").await;
    let chain: Vec<(String, Value)> = ancestry["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["entity"]["metadata"]["name"].as_str().unwrap().to_owned(), i["parentEntityRefs"].clone()))
        .collect();
    assert_eq!(ancestry["rootEntityRef"], "component:default/svc-b");
    assert_eq!(chain[0], ("svc-b".to_owned(), json!(["location:default/nested"])));
    assert_eq!(chain[1].0, "nested");
    assert!(chain[2].0.starts_with("generated-") && chain[2].1 == json!([]), "{chain:?}");

    // The entity belongs to its location: edits through the API are refused.
    let uid = api["metadata"]["uid"].as_str().unwrap();
    let request = Request::put(format!("/api/catalog/entities/{uid}"))
        .header(header::HOST, &t.host)
        .header(header::COOKIE, &cookie)
        .body(Body::from("apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: svc-api}\nspec: {type: openapi, lifecycle: production, owner: x, definition: x}\n"))
        .unwrap();
    let edit = app.send(request).await;
    assert_eq!(edit.status, StatusCode::BAD_REQUEST, "{}", edit.body);
    assert!(edit.body.contains("registered location"), "{}", edit.body);

    // The repository changes: svc-a is edited, svc-b disappears.
    files.lock().unwrap().insert("repo/catalog-info.yaml".into(), ROOT.replace("first", "second"));
    files.lock().unwrap().insert("repo/more/entities.yaml".into(), MORE.split("---").nth(1).unwrap().to_owned());
    let (status, _) =
        app.post_json(&t, &cookie, "/api/catalog/refresh", json!({ "entityRef": "component:default/svc-a" })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, svc_a, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/component/default/svc-a").await;
    assert_eq!(svc_a["metadata"]["description"], "second");
    assert_eq!(annotation(&svc_a, "backstage.io/orphan"), None);
    let (_, svc_b, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/component/default/svc-b").await;
    assert_eq!(annotation(&svc_b, "backstage.io/orphan"), Some("true"), "kept, flagged as an orphan");
    let (_, orphans, _) =
        app.get_json(&t, &cookie, "/api/catalog/entities?filter=metadata.annotations.backstage.io/orphan=true").await;
    assert_eq!(orphans.as_array().unwrap().len(), 1);

    // analyze-location writes nothing and knows what is registered.
    let (status, analysis) = app
        .post_json(
            &t,
            &cookie,
            "/api/catalog/analyze-location",
            json!({ "location": { "type": "url", "target": target } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{analysis}");
    let files_found = analysis["existingEntityFiles"].as_array().unwrap();
    assert_eq!(files_found.len(), 3, "{analysis}");
    assert!(files_found.iter().all(|f| f["isRegistered"] == true));
    assert_eq!(analysis["generateEntities"], json!([]));

    // Another tenant sees none of it.
    let other = app.tenant().await;
    let other_cookie = app.login(&other.host, &other.admin_email, &other.admin_password).await;
    let (status, _, _) = app.get_json(&other, &other_cookie, &format!("/api/catalog/locations/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        delete(&app, &other, &other_cookie, &format!("/api/catalog/locations/{id}")).await,
        StatusCode::NOT_FOUND
    );

    // Unregistering deletes the location's entities, in one audited step.
    assert_eq!(delete(&app, &t, &cookie, &format!("/api/catalog/locations/{id}")).await, StatusCode::NO_CONTENT);
    let (status, _, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/component/default/svc-a").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list, _) = app.get_json(&t, &cookie, "/api/catalog/locations").await;
    assert_eq!(list, json!([]));
    let actions = app.audit_actions(&t.tenant).await;
    for action in [
        "catalog.fetch_host_allowed",
        "catalog.location_registered",
        "catalog.entities_imported",
        "catalog.location_deleted",
    ] {
        assert!(actions.iter().any(|(a, _, _)| a == action), "{action} missing from {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetches_refuse_other_hosts_redirects_large_bodies_and_missing_files() {
    let port = file_server(Arc::new(Mutex::new(HashMap::new()))).await;
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    allow(&app, &t, &format!("127.0.0.1:{port}")).await;
    let analyze = |path: String| {
        let (app, t, cookie) = (&app, &t, &cookie);
        async move {
            let body = json!({ "location": { "type": "url", "target": path } });
            let (status, body) = app.post_json(t, cookie, "/api/catalog/analyze-location", body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            body["error"]["message"].as_str().unwrap().to_owned()
        }
    };
    assert!(analyze(format!("http://127.0.0.1:{port}/away")).await.contains("another host"));
    assert!(analyze(format!("http://127.0.0.1:{port}/huge.yaml")).await.contains("larger than 5 MiB"));
    assert!(analyze(format!("http://127.0.0.1:{port}/missing.yaml")).await.contains("404"));
    assert!(analyze(format!("http://localhost:{port}/x.yaml")).await.contains("allowlist"));
    assert!(analyze("file:///etc/passwd".into()).await.contains("only http and https"));

    // Anonymous callers get nothing; viewers may read locations but not register them.
    assert_eq!(app.get(&t.host, "/api/catalog/locations", None).await.status, StatusCode::UNAUTHORIZED);
    let email = format!("viewer@{}.example.com", t.tenant.slug);
    let (_, viewer) = app.member(&t, &cookie, &email, app::auth::model::Role::Viewer).await;
    let (status, _) =
        app.post_json(&t, &viewer, "/api/catalog/locations", json!({ "type": "url", "target": "http://x/y" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app.get_json(&t, &viewer, "/api/catalog/locations").await;
    assert_eq!(status, StatusCode::OK);
}

/// A .tar.gz of Backstage's example folder imports like the folder itself: Locations and
/// `$text` followed inside the archive, OpenAPI files not taken for entities.
#[tokio::test(flavor = "multi_thread")]
async fn a_repository_archive_imports_through_the_rest_api() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    archive.append_dir_all("examples-main", EXAMPLES).unwrap();
    let bytes = archive.into_inner().unwrap().finish().unwrap();
    let request = Request::post("/api/catalog/import")
        .header(header::HOST, &t.host)
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/gzip")
        .body(Body::from(bytes))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let report: Value = response.json();
    let results = report["results"].as_array().unwrap();
    let rejected: Vec<&Value> = results.iter().filter(|r| r["outcome"].get("Rejected").is_some()).collect();
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(results.iter().filter(|r| r["outcome"] == "Created").count(), 67);
    let (_, petstore, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/api/default/petstore").await;
    assert!(petstore["spec"]["definition"].as_str().unwrap().contains("openapi"), "$text read from the archive");

    let request = Request::post("/api/catalog/import")
        .header(header::HOST, &t.host)
        .header(header::COOKIE, &cookie)
        .body(Body::from(vec![0x1f, 0x8b, 0x08, 0x00, 0x01]))
        .unwrap();
    let broken = app.send(request).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{}", broken.body);
}

/// The import page's job: the server function answers at once; the job reaches `Done` with
/// every document accounted for.
#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_import_runs_as_a_job_with_progress() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let yaml: String = (0..1200)
        .map(|i| format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: c{i}}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n---\n"))
        .chain(["kind: [broken\n".to_owned()])
        .collect();
    let started = app.call(&t.host, "/api/ui/catalog/import", &[("yaml", &yaml)], Some(&cookie)).await;
    assert!(started.status.is_success() || started.status.is_redirection(), "{} {}", started.status, started.body);
    let location = started.headers.get(header::LOCATION).or(started.headers.get("serverfnredirect"));
    let path = location.expect("redirects to the job page").to_str().unwrap().to_owned();
    let id = path.strip_prefix("/catalog/import/").expect("job page path").to_owned();
    let job = loop {
        let response = app.call(&t.host, "/api/ui/catalog/import-job", &[("id", &id)], Some(&cookie)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let job: Value = response.json();
        if job["status"] != "Running" {
            break job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(job["status"], "Done", "{job}");
    assert_eq!((job["processed"].as_i64(), job["total"].as_i64()), (Some(1201), Some(1201)));
    let results = job["report"]["results"].as_array().unwrap();
    assert_eq!(results.iter().filter(|r| r["outcome"] == "Created").count(), 1200);
    assert_eq!(results.iter().filter(|r| r["outcome"].get("Rejected").is_some()).count(), 1);

    // Another tenant cannot read the job.
    let other = app.tenant().await;
    let other_cookie = app.login(&other.host, &other.admin_email, &other.admin_password).await;
    let response = app.call(&other.host, "/api/ui/catalog/import-job", &[("id", &id)], Some(&other_cookie)).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
}
