use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::{example_documents, TestApp, TestResponse};
use app::audit::service::AuditSource;
use app::catalog::model::DocumentOutcome;
use app::catalog::service;

fn names(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|e| e["metadata"]["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backstage_examples_import_with_relations_and_reimport_unchanged() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let (status, all, _) = app.get_json(&t, &cookie, "/api/catalog/entities").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), 67);

    let (_, petstore, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/component/default/petstore").await;
    let relations: Vec<(String, String)> = petstore["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["type"].as_str().unwrap().to_owned(), r["targetRef"].as_str().unwrap().to_owned()))
        .collect();
    assert!(relations.contains(&("ownedBy".into(), "group:default/team-c".into())), "{relations:?}");
    assert!(relations.contains(&("providesApi".into(), "api:default/petstore".into())), "{relations:?}");
    assert!(petstore["metadata"]["uid"].is_string() && petstore["metadata"]["etag"].is_string());

    // The reverse side is visible from the group.
    let (_, team, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/group/default/team-c").await;
    assert!(team["relations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == "ownerOf" && r["targetRef"] == "component:default/petstore"));

    let detail =
        service::detail(&app.db, &t.tenant, app::catalog::refs::EntityRef::new("Component", "default", "petstore"))
            .await
            .unwrap();
    assert!(detail.history.iter().any(|e| e.action == "catalog.entities_imported"), "{:?}", detail.history);
    assert!(detail.relations.iter().all(|r| r.target_path.is_some()), "every example relation resolves");

    let again = service::import(
        &app.db,
        &t.tenant,
        &AuditSource::command_line(),
        &service::Origin::named("again"),
        example_documents("all.yaml").await,
    )
    .await
    .unwrap();
    assert!(again.results.iter().all(|r| r.outcome == DocumentOutcome::Unchanged));
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_follow_backstage_semantics() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let get = |q: &'static str| {
        let app = &app;
        let t = &t;
        let cookie = &cookie;
        async move { app.get_json(t, cookie, &format!("/api/catalog/entities?{q}")).await.1 }
    };
    let services = get("filter=kind=COMPONENT,spec.type=service&fields=metadata.name,kind").await;
    assert!(!services.as_array().unwrap().is_empty());
    for e in services.as_array().unwrap() {
        assert_eq!(e.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["kind", "metadata"], "fields projection");
    }
    let either = get("filter=kind=domain&filter=kind=system").await;
    assert_eq!(either.as_array().unwrap().len(), 6);
    // Exactly the three examples tagged java: a filter that let everything through fails here.
    let tagged = get("filter=metadata.tags.java").await;
    let mut tagged = names(&tagged);
    tagged.sort();
    assert_eq!(tagged, ["artist-lookup", "playback-order", "podcast-api"]);
    let owned = get("filter=relations.ownedBy=group:default/team-c").await;
    assert!(names(&owned).contains(&"petstore".to_owned()));
    let members = get("filter=kind=user,relations.memberof=group:default/team-a").await;
    assert!(!members.as_array().unwrap().is_empty());
    let ordered = get("filter=kind=domain&order=desc:metadata.name").await;
    let mut expected = names(&ordered);
    expected.sort();
    expected.reverse();
    assert_eq!(names(&ordered), expected);

    let (status, body, _) = app.get_json(&t, &cookie, "/api/catalog/entities?order=asc:spec.definition").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["name"], "InputError");
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_link_to_the_next_page_and_cursors_round_trip() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let (_, first, headers) = app.get_json(&t, &cookie, "/api/catalog/entities?limit=30").await;
    let link = headers[header::LINK].to_str().unwrap().to_owned();
    let next = link.trim_start_matches('<').split('>').next().unwrap().to_owned();
    let (_, second, _) = app.get_json(&t, &cookie, &next).await;
    let (_, _, third_headers) = app.get_json(&t, &cookie, "/api/catalog/entities?limit=30&offset=60").await;
    assert_eq!(first.as_array().unwrap().len(), 30);
    assert_eq!(second.as_array().unwrap().len(), 30);
    let uids = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|e| e["metadata"]["uid"].as_str().unwrap().to_owned()).collect()
    };
    assert!(uids(&first).iter().all(|u| !uids(&second).contains(u)), "pages do not overlap");
    assert!(third_headers.get(header::LINK).is_none(), "no next link on the last page");

    let (_, page, _) = app
        .get_json(&t, &cookie, "/api/catalog/entities/by-query?filter=kind=user&limit=10&orderField=metadata.name,asc")
        .await;
    assert_eq!(page["totalItems"], 17);
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    assert!(page["pageInfo"].get("prevCursor").is_none());
    let cursor = page["pageInfo"]["nextCursor"].as_str().unwrap();
    let (_, rest, _) =
        app.get_json(&t, &cookie, &format!("/api/catalog/entities/by-query?cursor={cursor}&limit=10")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 7);
    assert!(rest["pageInfo"].get("nextCursor").is_none());
    assert!(rest["pageInfo"]["prevCursor"].is_string());

    // As in Backstage, `fields` and `limit` come with each request, never from the cursor.
    let (_, projected, _) =
        app.get_json(&t, &cookie, "/api/catalog/entities/by-query?filter=kind=user&limit=5&fields=metadata.name").await;
    assert!(projected["items"][0].get("spec").is_none(), "{projected}");
    let cursor = projected["pageInfo"]["nextCursor"].as_str().unwrap();
    let (_, whole, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entities/by-query?cursor={cursor}")).await;
    assert_eq!(whole["items"].as_array().unwrap().len(), 12, "the default limit, not the first request's");
    assert!(whole["items"][0]["spec"].is_object(), "no projection unless this request asks: {whole}");
    let (_, _, headers) = app.get_json(&t, &cookie, "/api/catalog/entities?filter=kind=user&limit=5&fields=kind").await;
    let link = headers[header::LINK].to_str().unwrap();
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let (_, second, _) = app.get_json(&t, &cookie, next).await;
    assert_eq!(second.as_array().unwrap().len(), 5, "the next link asks for the same limit: {link}");
    assert!(second[0].get("metadata").is_none(), "and the same fields: {second}");
    // A kind's page in ref order is read as the range of refs after `kind:`: all of them, in order.
    let (_, components, _) = app.get_json(&t, &cookie, "/api/catalog/entities?filter=kind=COMPONENT").await;
    let refs: Vec<String> = components
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("component:default/{}", e["metadata"]["name"].as_str().unwrap()).to_lowercase())
        .collect();
    assert_eq!(refs.len(), 13, "{components}");
    assert!(refs.windows(2).all(|w| w[0] < w[1]), "{refs:?}");

    let (_, found, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-query?fullTextFilterTerm=petst").await;
    assert!(names(&found["items"]).contains(&"petstore".to_owned()));
    let (_, typo, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-query?fullTextFilterTerm=pettstore").await;
    assert!(names(&typo["items"]).contains(&"petstore".to_owned()), "a typo still finds it: {typo}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lookups_by_refs_name_and_uid_and_deletion() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let (status, body) = app.post_json(&t,
        &cookie,
        "/api/catalog/entities/by-refs",
        json!({ "entityRefs": ["component:default/petstore", "component:default/nope", "group:default/team-a"], "fields": ["metadata.name"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["items"],
        json!([{ "metadata": { "name": "petstore" } }, null, { "metadata": { "name": "team-a" } }])
    );

    let (status, missing, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/component/default/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["name"], "NotFoundError");
    assert_eq!(missing["response"]["statusCode"], 404);
    assert_eq!(missing["request"]["method"], "GET");

    let (_, petstore, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/Component/default/PETSTORE").await;
    let uid = petstore["metadata"]["uid"].as_str().unwrap().to_owned();
    let (status, by_uid, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entities/by-uid/{uid}")).await;
    assert_eq!((status, by_uid["metadata"]["name"].as_str()), (StatusCode::OK, Some("petstore")));
    let delete = |uid: &str| {
        Request::delete(format!("/api/catalog/entities/by-uid/{uid}"))
            .header(header::HOST, &t.host)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(delete(&uid)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_json(&t, &cookie, &format!("/api/catalog/entities/by-uid/{uid}")).await.0,
        StatusCode::NOT_FOUND
    );
    // Deleting what is not there is a no-op, 204 as in Backstage (its client throws on a 404).
    for absent in [uid.as_str(), "not-a-uuid"] {
        assert_eq!(app.send(delete(absent)).await.status, StatusCode::NO_CONTENT);
    }
    let audit = app.audit_actions(&t.tenant).await;
    let deletions: Vec<_> = audit.iter().filter(|(a, _, _)| a == "catalog.entity_deleted").collect();
    assert_eq!(deletions.len(), 1, "only the real deletion is recorded: {deletions:?}");
    assert_eq!(deletions[0].1, "component:default/petstore");
}

#[tokio::test(flavor = "multi_thread")]
async fn facets_count_values_under_a_filter() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let (status, body, _) = app
        .get_json(&t, &cookie, "/api/catalog/entity-facets?facet=kind&facet=spec.lifecycle&filter=kind=component")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["facets"]["kind"], json!([{ "value": "Component", "count": 13 }]));
    let lifecycles = body["facets"]["spec.lifecycle"].as_array().unwrap();
    assert_eq!(lifecycles.iter().map(|v| v["count"].as_i64().unwrap()).sum::<i64>(), 13);
    assert_eq!(app.get_json(&t, &cookie, "/api/catalog/entity-facets").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_and_imports_report_per_document_and_write_only_good_ones() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let good = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "x" }, "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" } });
    let (status, _) = app
        .post_json(
            &t,
            &cookie,
            "/api/catalog/validate-entity",
            json!({ "entity": good, "location": "url:https://example.com/x.yaml" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post_json(
            &t,
            &cookie,
            "/api/catalog/validate-entity",
            json!({ "entity": { "kind": "Component" }, "location": "url:x" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"].as_array().unwrap().len() >= 2);

    let yaml = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: fresh\nspec: {type: service, lifecycle: production, owner: team-a}\n---\nkind: [broken\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Fresh\nspec: {type: service, lifecycle: production, owner: team-a}\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: petstore\n  description: changed\nspec: {type: service, lifecycle: production, owner: team-c}\n";
    let request = Request::post("/api/catalog/import")
        .header(header::HOST, &t.host)
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/yaml")
        .body(Body::from(yaml))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let report: app::catalog::model::ImportReport = response.json();
    let outcomes: Vec<&DocumentOutcome> = report.results.iter().map(|r| &r.outcome).collect();
    assert_eq!(outcomes[0], &DocumentOutcome::Created);
    assert!(matches!(outcomes[1], DocumentOutcome::Rejected(r) if r[0].starts_with("YAML")));
    assert!(matches!(outcomes[2], DocumentOutcome::Rejected(r) if r[0].contains("duplicates document 1")));
    assert_eq!(outcomes[3], &DocumentOutcome::Updated);
    let (_, fresh, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/component/default/fresh").await;
    assert_eq!(fresh["metadata"]["name"], "fresh");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_tenant_and_lesser_roles_get_what_they_should() {
    let (app, a, _) = TestApp::with_examples().await;
    let b = app.tenant().await;
    let b_admin = app.login(&b.host, &b.admin_email, &b.admin_password).await;
    let (_, list, _) = app.get_json(&b, &b_admin, "/api/catalog/entities").await;
    assert_eq!(list, json!([]));
    assert_eq!(
        app.get_json(&b, &b_admin, "/api/catalog/entities/by-name/component/default/petstore").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, refs) = app
        .post_json(
            &b,
            &b_admin,
            "/api/catalog/entities/by-refs",
            json!({ "entityRefs": ["component:default/petstore"] }),
        )
        .await;
    assert_eq!(refs["items"], json!([null]));

    assert_eq!(app.get(&a.host, "/api/catalog/entities", None).await.status, StatusCode::UNAUTHORIZED);
    let a_admin = app.login(&a.host, &a.admin_email, &a.admin_password).await;
    let email = format!("viewer@{}.example.com", a.tenant.slug);
    app.call(
        &a.host,
        "/api/settings/users/invite",
        &[("email", &email), ("display_name", "V"), ("role", "viewer")],
        Some(&a_admin),
    )
    .await;
    let view: app::settings::api::UsersView =
        app.call(&a.host, "/api/settings/users/list", &[], Some(&a_admin)).await.json();
    let viewer = app.login(&a.host, &email, &view.invitation.unwrap().one_time_password.unwrap()).await;
    assert_eq!(app.get_json(&a, &viewer, "/api/catalog/entities?limit=1").await.0, StatusCode::OK);
    let import = Request::post("/api/catalog/import")
        .header(header::HOST, &a.host)
        .header(header::COOKIE, &viewer)
        .body(Body::from("kind: X"))
        .unwrap();
    assert_eq!(app.send(import).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_editor_creates_and_replaces_but_never_renames_or_overwrites() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let save = "/api/ui/catalog/save";
    let yaml = |name: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: {name}\nspec:\n  owner: team-a\n")
    };
    let created = app.call(&t.host, save, &[("original", ""), ("yaml", &yaml("shop"))], Some(&cookie)).await;
    assert!(created.status.is_success(), "{}", created.body);
    let again = app.call(&t.host, save, &[("original", ""), ("yaml", &yaml("shop"))], Some(&cookie)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "creating over an existing entity");
    let renamed =
        app.call(&t.host, save, &[("original", "system:default/shop"), ("yaml", &yaml("shop2"))], Some(&cookie)).await;
    assert_eq!(renamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let two = app
        .call(&t.host, save, &[("original", ""), ("yaml", &format!("{}---\n{}", yaml("a"), yaml("b")))], Some(&cookie))
        .await;
    assert_eq!(two.status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, shop, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/system/default/shop").await;
    assert_eq!(shop["spec"]["owner"], "team-a");
    assert!(
        app.get_json(&t, &cookie, "/api/catalog/entities/by-name/system/default/shop2").await.0
            == StatusCode::NOT_FOUND
    );
}

/// Reads server-sent events until one named `catalog:updated` arrives or `wait` passes.
async fn next_update(body: &mut axum::body::BodyDataStream, wait: std::time::Duration) -> bool {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, body.next()).await {
        if String::from_utf8_lossy(&chunk).contains("event: catalog:updated") {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_changes_are_pushed_live_to_the_same_tenant_only() {
    let (app, a, a_cookie) = TestApp::with_examples().await;
    let b = app.tenant().await;
    let b_cookie = app.login(&b.host, &b.admin_email, &b.admin_password).await;
    let open = |host: &str, cookie: &str| {
        Request::get("/api/catalog/events")
            .header(header::HOST, host)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let a_stream = app.router.clone().oneshot(open(&a.host, &a_cookie)).await.unwrap();
    assert_eq!(a_stream.status(), StatusCode::OK);
    let mut a_events = a_stream.into_body().into_data_stream();
    let mut b_events =
        app.router.clone().oneshot(open(&b.host, &b_cookie)).await.unwrap().into_body().into_data_stream();

    // The listener connects in the background: write until A hears about it (bounded).
    let mut heard = false;
    for attempt in 0..20 {
        let yaml = format!("apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: live-{attempt}\nspec: {{type: queue, owner: team-a}}\n");
        let import = Request::post("/api/catalog/import")
            .header(header::HOST, &a.host)
            .header(header::COOKIE, &a_cookie)
            .body(Body::from(yaml))
            .unwrap();
        assert_eq!(app.send(import).await.status, StatusCode::OK);
        if next_update(&mut a_events, std::time::Duration::from_millis(500)).await {
            heard = true;
            break;
        }
    }
    assert!(heard, "tenant A's stream announced A's change");
    assert!(!next_update(&mut b_events, std::time::Duration::from_millis(500)).await, "tenant B hears nothing of A");

    assert_eq!(app.get(&a.host, "/api/catalog/events", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn predicates_select_like_backstage_and_bad_ones_are_input_errors() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let query = json!({ "query": { "$all": [ { "kind": "Component" }, { "$not": { "metadata.tags": { "$in": ["java", "go"] } } } ] }, "limit": 100 });
    let (status, page) = app.post_json(&t, &cookie, "/api/catalog/entities/by-query", query).await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.len() < 13);
    for e in items {
        let tags = e["metadata"]["tags"].as_array().cloned().unwrap_or_default();
        assert!(!tags.iter().any(|t| t == "java" || t == "go"), "{e}");
    }
    let (status, body) = app
        .post_json(&t, &cookie, "/api/catalog/entities/by-query", json!({ "query": { "kind": { "$regex": "." } } }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["name"], "InputError");
}

/// A path without a column of its own is looked up in the GIN-indexed filters two ways: on
/// each row for a filter set, as a set of ids under a predicate's NOTs and ORs. Both select the
/// same entities, case-insensitively, and paths every entity has exist everywhere.
#[tokio::test(flavor = "multi_thread")]
async fn generic_paths_select_the_same_entities_as_filters_and_as_predicates() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let names = |page: &Value| -> Vec<String> {
        let mut names: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let by_query = |query: Value| {
        let (app, t, cookie) = (&app, &t, &cookie);
        async move {
            let (status, page) = app
                .post_json(t, cookie, "/api/catalog/entities/by-query", json!({ "query": query, "limit": 100 }))
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    let (status, filtered, _) =
        app.get_json(&t, &cookie, "/api/catalog/entities/by-query?filter=kind=component,spec.system&limit=100").await;
    assert_eq!(status, StatusCode::OK);
    let with_system = names(&filtered);
    let as_predicate =
        by_query(json!({ "$all": [{ "kind": "component" }, { "spec.system": { "$exists": true } }] })).await;
    assert_eq!(names(&as_predicate), with_system);
    let without =
        by_query(json!({ "$all": [{ "kind": "component" }, { "$not": { "spec.system": { "$exists": true } } }] }))
            .await;
    let without = names(&without);
    assert!(!with_system.is_empty() && !without.is_empty(), "{with_system:?} / {without:?}");
    assert!(without.iter().all(|n| !with_system.contains(n)));
    assert_eq!(with_system.len() + without.len(), 13, "every component is on one side");

    let system = filtered["items"][0]["spec"]["system"].as_str().unwrap().to_uppercase();
    let (_, by_value, _) = app
        .get_json(
            &t,
            &cookie,
            &format!("/api/catalog/entities/by-query?filter=kind=component,spec.system={system}&limit=100"),
        )
        .await;
    let either = by_query(json!({ "$all": [{ "kind": "component" },
        { "$any": [{ "spec.system": system }, { "metadata.annotations.nobody/has": "this" }] }] }))
    .await;
    assert!(!names(&by_value).is_empty());
    assert_eq!(names(&either), names(&by_value));

    let named = by_query(json!({ "$all": [{ "kind": "component" }, { "metadata.name": { "$exists": true } }] })).await;
    assert_eq!(named["totalItems"], 13);
    let unnamed =
        by_query(json!({ "$all": [{ "kind": "component" }, { "$not": { "metadata.uid": { "$exists": true } } }] }))
            .await;
    assert_eq!(unnamed["totalItems"], 0);
}

/// The paths whose values are in columns (kind, name, namespace, uid, type, lifecycle) have no
/// filter entries, and tags share the generic index: each still filters, exists and facets as
/// Backstage's do, case ignored.
#[tokio::test(flavor = "multi_thread")]
async fn paths_held_in_columns_filter_exist_and_facet_like_any_other() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let page = |filter: String| {
        let (app, t, cookie) = (&app, &t, &cookie);
        async move {
            let url = format!("/api/catalog/entities/by-query?{filter}&limit=100");
            let (status, page, _) = app.get_json(t, cookie, &url).await;
            assert_eq!(status, StatusCode::OK, "{url}: {page}");
            let mut refs: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| format!("{}:{}", e["kind"].as_str().unwrap(), e["metadata"]["name"].as_str().unwrap()))
                .collect();
            refs.sort();
            refs
        }
    };
    let components = page("filter=kind=component".into()).await;
    assert_eq!(components.len(), 13);
    let (_, all, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-query?filter=kind=component&limit=100").await;
    let first = &all["items"][0];

    let uid = first["metadata"]["uid"].as_str().unwrap();
    let name = first["metadata"]["name"].as_str().unwrap();
    let by_uid = page(format!("filter=metadata.uid={}", uid.to_uppercase())).await;
    assert_eq!(by_uid, [format!("Component:{name}")]);
    assert!(page("filter=metadata.uid=not-a-uid".into()).await.is_empty());
    assert_eq!(page(format!("filter=metadata.name={}", name.to_uppercase())).await.len(), 1);
    for exists in ["metadata.namespace", "metadata.uid", "kind", "metadata.name"] {
        assert_eq!(page(format!("filter=kind=component,{exists}")).await, components, "{exists}");
    }
    assert_eq!(page("filter=kind=component,metadata.namespace=DEFAULT".into()).await, components);

    let typed: Vec<&Value> =
        all["items"].as_array().unwrap().iter().filter(|e| e["spec"]["type"].is_string()).collect();
    assert_eq!(page("filter=kind=component,spec.type".into()).await.len(), typed.len());
    let service = typed.iter().filter(|e| e["spec"]["type"] == "service").count();
    assert!(service > 0);
    assert_eq!(page("filter=kind=component,spec.type=SERVICE".into()).await.len(), service);
    let production = all["items"].as_array().unwrap().iter().filter(|e| e["spec"]["lifecycle"] == "production").count();
    assert_eq!(page("filter=kind=component,spec.lifecycle=Production".into()).await.len(), production);

    let tagged = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e["metadata"]["tags"][0].as_str())
        .expect("an example component has tags");
    let with_tag = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["metadata"]["tags"].as_array().is_some_and(|tags| tags.iter().any(|x| x == tagged)))
        .count();
    assert_eq!(page(format!("filter=kind=component,metadata.tags={}", tagged.to_uppercase())).await.len(), with_tag);

    let (status, facets, _) =
        app.get_json(&t, &cookie, "/api/catalog/entity-facets?facet=metadata.name&filter=kind=component").await;
    assert_eq!(status, StatusCode::OK, "{facets}");
    assert_eq!(facets["facets"]["metadata.name"].as_array().unwrap().len(), 13);
}

/// Relations are read through their source and an array's item is one filter entry: each
/// relation filter (to every target, and `$exists`) and each array item's filter (in both of
/// Backstage's forms) selects exactly the entities whose documents say so.
#[tokio::test(flavor = "multi_thread")]
async fn relation_and_array_item_filters_select_what_the_documents_say() {
    use std::collections::{BTreeMap, BTreeSet};
    let (app, t, cookie) = TestApp::with_examples().await;
    let ref_of = |e: &Value| {
        let namespace = e["metadata"]["namespace"].as_str().unwrap_or("default");
        format!("{}:{namespace}/{}", e["kind"].as_str().unwrap(), e["metadata"]["name"].as_str().unwrap())
            .to_lowercase()
    };
    let selected = |filter: String| {
        let (app, t, cookie) = (&app, &t, &cookie);
        async move {
            let (status, found, _) = app.get_json(t, cookie, &format!("/api/catalog/entities?filter={filter}")).await;
            assert_eq!(status, StatusCode::OK, "{filter}: {found}");
            found.as_array().unwrap().iter().map(ref_of).collect::<BTreeSet<String>>()
        }
    };
    let (_, all, _) = app.get_json(&t, &cookie, "/api/catalog/entities").await;
    let (mut related, mut relating) = (BTreeMap::<_, BTreeSet<_>>::new(), BTreeMap::<_, BTreeSet<_>>::new());
    let mut items = BTreeMap::<_, BTreeSet<_>>::new();
    for entity in all.as_array().unwrap() {
        for relation in entity["relations"].as_array().unwrap() {
            let kind = relation["type"].as_str().unwrap().to_owned();
            let target = relation["targetRef"].as_str().unwrap().to_owned();
            related.entry((kind.clone(), target)).or_default().insert(ref_of(entity));
            relating.entry(kind).or_default().insert(ref_of(entity));
        }
        let arrays = [("metadata.tags", &entity["metadata"]["tags"])]
            .into_iter()
            .chain(["providesApis", "consumesApis", "dependsOn", "members"].map(|f| (f, &entity["spec"][f])));
        for (path, array) in arrays {
            for item in array.as_array().into_iter().flatten() {
                let path = if path.contains('.') { path.to_owned() } else { format!("spec.{path}") };
                items.entry((path, item.as_str().unwrap().to_owned())).or_default().insert(ref_of(entity));
            }
        }
    }
    assert!(related.len() > 50 && relating.len() >= 10, "the examples relate in many ways: {relating:?}");
    for ((kind, target), sources) in &related {
        assert_eq!(&selected(format!("relations.{kind}={}", target.to_uppercase())).await, sources, "{kind} {target}");
    }
    for (kind, sources) in &relating {
        assert_eq!(&selected(format!("relations.{kind}")).await, sources, "{kind}");
    }
    assert!(selected("relations.likes=group:default/team-a".into()).await.is_empty());

    assert!(items.len() > 20, "{items:?}");
    for ((path, item), holders) in &items {
        assert_eq!(&selected(format!("{path}={}", item.to_uppercase())).await, holders, "{path}={item}");
        assert_eq!(&selected(format!("{path}.{item}")).await, holders, "{path}.{item}");
        assert_eq!(&selected(format!("{path}.{}=true", item.to_uppercase())).await, holders, "{path}.{item}=true");
        assert!(selected(format!("{path}.{item}=false")).await.is_empty(), "{path}.{item}=false");
    }
    // A scalar is not an array's item: `spec.owner.<owner>` is no legacy path.
    let owner = all.as_array().unwrap().iter().find_map(|e| e["spec"]["owner"].as_str()).unwrap();
    assert!(!selected(format!("spec.owner={owner}")).await.is_empty());
    assert!(selected(format!("spec.owner.{owner}=true")).await.is_empty());
    assert!(selected(format!("spec.owner.{owner}")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_imports_unchanged_into_another_tenant() {
    let (app, a, a_cookie) = TestApp::with_examples().await;
    let export = app.get(&a.host, "/api/catalog/export", Some(&a_cookie)).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/yaml"));
    assert_eq!(export.body.matches("\n---\n").count() + 1, 67);
    let components = app.get(&a.host, "/api/catalog/export?filter=kind=component", Some(&a_cookie)).await;
    assert_eq!(components.body.matches("kind: Component").count(), 13);

    let b = app.tenant().await;
    let report = service::import(
        &app.db,
        &b.tenant,
        &AuditSource::command_line(),
        &service::Origin::named("export"),
        service::parse_documents(&export.body).into_iter().map(Into::into).collect(),
    )
    .await
    .unwrap();
    assert_eq!(report.count(|o| *o == DocumentOutcome::Created), 67, "{:?}", report.results);
    let b_cookie = app.login(&b.host, &b.admin_email, &b.admin_password).await;
    let (_, petstore, _) =
        app.get_json(&b, &b_cookie, "/api/catalog/entities/by-name/component/default/petstore").await;
    assert!(petstore["relations"].as_array().unwrap().iter().any(|r| r["type"] == "ownedBy"));
}

#[tokio::test(flavor = "multi_thread")]
async fn entities_can_be_created_replaced_read_and_deleted_by_uid_and_searched() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let system = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "System",
        "metadata": { "name": "checkout", "description": "Takes the money" }, "spec": { "owner": "team-a" } });
    let (status, created) = app.post_json(&t, &cookie, "/api/catalog/entities", system.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let uid = created["metadata"]["uid"].as_str().unwrap().to_owned();
    assert_eq!(app.post_json(&t, &cookie, "/api/catalog/entities", system.clone()).await.0, StatusCode::CONFLICT);
    // Lists serve documents the server keeps by etag: after a replace they serve the new one.
    const LISTED: &str = "/api/catalog/entities?filter=metadata.name=checkout";
    let listed_description = |listed: Value| listed[0]["metadata"]["description"].as_str().map(str::to_owned);
    let (_, listed, _) = app.get_json(&t, &cookie, LISTED).await;
    assert_eq!(listed_description(listed), Some("Takes the money".to_owned()));

    let mut changed = system.clone();
    changed["metadata"]["description"] = json!("Takes the money, safely");
    let put = |body: Value| {
        Request::put(format!("/api/catalog/entities/{uid}"))
            .header(header::HOST, &t.host)
            .header(header::COOKIE, &cookie)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let replaced = app.send(put(changed)).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let mut renamed = system.clone();
    renamed["metadata"]["name"] = json!("payments");
    assert_eq!(app.send(put(renamed)).await.status, StatusCode::BAD_REQUEST);

    let (status, read, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entities/{uid}")).await;
    assert_eq!((status, read["metadata"]["description"].as_str()), (StatusCode::OK, Some("Takes the money, safely")));
    let (_, listed, _) = app.get_json(&t, &cookie, LISTED).await;
    assert_eq!(listed[0]["metadata"]["etag"], read["metadata"]["etag"]);
    assert_eq!(listed_description(listed), Some("Takes the money, safely".to_owned()));

    let (status, found, _) = app.get_json(&t, &cookie, "/api/catalog/search?q=money").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["results"][0]["entityRef"], "system:default/checkout");
    assert!(found["results"][0]["snippet"].as_str().unwrap().contains("<mark>money</mark>"));

    let delete = Request::delete(format!("/api/catalog/entities/{uid}"))
        .header(header::HOST, &t.host)
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(delete).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_json(&t, &cookie, &format!("/api/catalog/entities/{uid}")).await.0, StatusCode::NOT_FOUND);
}

/// Every operation the OpenAPI document describes is routed (no 404/405 from the router).
#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_routes_that_exist() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let (status, doc, _) = app.get_json(&t, &cookie, "/api/catalog/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 19);
    for (path, operations) in paths {
        let concrete = path
            .replace("{uid}", "00000000-0000-0000-0000-000000000000")
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{kind}", "component")
            .replace("{namespace}", "default")
            .replace("{name}", "nope");
        for method in operations.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(format!("/api/catalog{concrete}"))
                .header(header::HOST, &t.host)
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            if path == "/events" {
                continue; // a stream that never ends; covered by its own test
            }
            let response = app.send(request).await;
            assert_ne!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let routed_404 = response.status == StatusCode::NOT_FOUND && !response.body.contains("NotFoundError");
            assert!(!routed_404, "{method} {path} is not routed");
        }
    }
}

/// The other direction: every route the catalog serves is in the OpenAPI document. The
/// endpoint table the router is built from is walked, so a route added without its
/// documentation fails here.
#[tokio::test(flavor = "multi_thread")]
async fn every_served_catalog_route_is_in_the_openapi_document() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (status, doc, _) = app.get_json(&t, &cookie, "/api/catalog/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let base = doc["servers"][0]["url"].as_str().expect("the document names its base path");
    let served = server::rest::catalog::endpoints();
    assert!(!served.is_empty());
    let undocumented: Vec<String> = served
        .iter()
        .filter(|e| {
            let path = e.path.strip_prefix(base).unwrap_or(e.path);
            doc["paths"][path][e.method.as_str().to_lowercase()].is_null()
        })
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(undocumented.is_empty(), "served but missing from the OpenAPI document: {undocumented:#?}");
}

/// `response` is Backstage's error envelope for `GET url`, and nothing but it.
fn assert_envelope(response: &TestResponse, url: &str, status: StatusCode, name: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(response.headers[header::CONTENT_TYPE], "application/json");
    let body: Value = response.json();
    let message = body["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(!message.is_empty(), "{body}");
    assert_eq!(
        body,
        json!({
            "error": { "name": name, "message": message },
            "request": { "method": "GET", "url": url },
            "response": { "statusCode": status.as_u16() },
        })
    );
}

/// Requests refused before any catalog handler runs (no sign-in, another tenant's
/// credentials, no such tenant, over the rate limit, outside the allowlist) answer in the
/// envelope the handlers answer in: Backstage's clients know one shape.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_on_the_catalog_api_answer_in_backstages_envelope() {
    const PATH: &str = "/api/catalog/entities";
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let other = app.tenant().await;
    let other_admin = app.login(&other.host, &other.admin_email, &other.admin_password).await;
    let (_, other_key) = app.create_key(&other, &other_admin, "elsewhere", &["catalog:read"]).await;
    let with_key = |key: &str| {
        let request =
            Request::get(PATH).header(header::HOST, &t.host).header(header::AUTHORIZATION, format!("Bearer {key}"));
        app.send(request.body(Body::empty()).unwrap())
    };

    let missing = "/api/catalog/entities/by-name/component/default/nope";
    assert_envelope(&app.get(&t.host, missing, Some(&admin)).await, missing, StatusCode::NOT_FOUND, "NotFoundError");

    let anonymous = app.get(&t.host, PATH, None).await;
    assert_envelope(&anonymous, PATH, StatusCode::UNAUTHORIZED, "AuthenticationError");
    let other_session = app.get(&t.host, PATH, Some(&other_admin)).await;
    assert_envelope(&other_session, PATH, StatusCode::UNAUTHORIZED, "AuthenticationError");
    let foreign_key = with_key(&other_key).await;
    assert_envelope(&foreign_key, PATH, StatusCode::UNAUTHORIZED, "AuthenticationError");
    assert!(foreign_key.headers.contains_key(header::WWW_AUTHENTICATE), "the challenge is kept");
    let no_tenant = app.get("nobody.localhost", PATH, None).await;
    assert_envelope(&no_tenant, PATH, StatusCode::NOT_FOUND, "NotFoundError");

    // Paths outside the catalog API keep the app's own error, which server functions decode.
    let server_fn = app.call(&t.host, "/api/settings/security", &[], None).await;
    assert_eq!((server_fn.status, server_fn.json::<Value>()), (StatusCode::UNAUTHORIZED, json!("Unauthenticated")));

    // Anonymous callers get 100 requests a minute per address; this test's address has used
    // some already. If the window rolls over during a burst, the burst is repeated.
    let mut limited = None;
    for _burst in 0..2 {
        for _ in 0..101 {
            let response = app.get(&t.host, PATH, None).await;
            if response.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(response);
                break;
            }
        }
        if limited.is_some() {
            break;
        }
    }
    let limited = limited.expect("the 101st anonymous request in a minute is refused");
    assert_envelope(&limited, PATH, StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsError");
    assert!(limited.headers.contains_key("retry-after"), "the retry hint is kept");

    // The API only from a network the test client is not on: refused before the key is read.
    let allowlist = [("cidr", "203.0.113.0/24"), ("applies_to", "api")];
    let added = app.call(&t.host, "/api/settings/security/allowlist/add", &allowlist, Some(&admin)).await;
    assert!(added.status.is_success(), "{} {}", added.status, added.body);
    assert_envelope(&with_key("bcn_bogus").await, PATH, StatusCode::FORBIDDEN, "NotAllowedError");
}

/// `GET /api/catalog/search/semantic` ranks by meaning (a query sharing no word with the
/// entity's text finds it), filters by kind, refuses bad input, and sees only its tenant.
#[tokio::test(flavor = "multi_thread")]
async fn semantic_search_ranks_entities_by_meaning_within_the_tenant() {
    const PATH: &str = "/api/catalog/search/semantic";
    let (app, t, cookie) = TestApp::with_examples().await;
    let model = app.state.embedder.clone().expect("BEACON_EMBEDDING_MODEL (set by scripts/test.sh)");
    let worker = app::embedding::worker::EmbeddingWorker::new(app.db.clone(), model);

    // Before the worker ran, the answer says nothing is embedded yet.
    let (status, early, _) = app.get_json(&t, &cookie, &format!("{PATH}?q=music")).await;
    assert_eq!((status, early["embedded"].as_u64()), (StatusCode::OK, Some(0)), "{early}");
    assert!(worker.catch_up(&t.tenant, 2).await.unwrap() > 20);
    // The catalog did not change, so the server reads the new vectors once its index is 5 s old
    // (a search while texts are being embedded does not rebuild it each time).
    let mut waited = 0;
    loop {
        let (_, now, _) = app.get_json(&t, &cookie, &format!("{PATH}?q=music")).await;
        if now["embedded"] == now["total"] {
            break;
        }
        assert!(waited < 100, "the new vectors were not read within 10 s: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }

    // No word in common with "Archive of the wayback machine".
    let (status, found, _) =
        app.get_json(&t, &cookie, &format!("{PATH}?q=historical%20snapshots%20of%20old%20web%20pages&limit=3")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["results"][0]["entityRef"], "component:default/wayback-archive", "{found}");
    assert_eq!(found["results"].as_array().unwrap().len(), 3);
    assert_eq!(found["embedded"], found["total"]);
    assert_eq!(found["model"], "all-MiniLM-L6-v2");
    let similarity = found["results"][0]["similarity"].as_f64().unwrap();
    assert!(similarity > 0.3 && similarity <= 1.0, "{similarity}");

    let (_, systems, _) = app.get_json(&t, &cookie, &format!("{PATH}?q=music%20playback&kind=System")).await;
    let refs: Vec<&str> =
        systems["results"].as_array().unwrap().iter().map(|r| r["entityRef"].as_str().unwrap()).collect();
    assert!(!refs.is_empty() && refs.iter().all(|r| r.starts_with("system:")), "{refs:?}");
    assert_eq!(refs[0], "system:default/audio-playback");

    // A new entity is searchable once the worker embedded it.
    let created = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "ledger", "description": "Double-entry bookkeeping of every payment" },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" } });
    assert_eq!(app.post_json(&t, &cookie, "/api/catalog/entities", created).await.0, StatusCode::CREATED);
    assert_eq!(worker.catch_up(&t.tenant, 1).await.unwrap(), 1);
    let (_, money, _) = app.get_json(&t, &cookie, &format!("{PATH}?q=accounting%20for%20transactions&limit=1")).await;
    assert_eq!(money["results"][0]["entityRef"], "component:default/ledger", "{money}");

    for bad in ["", "?q=", "?q=a&limit=0", "?q=a&limit=101", "?q=a&limit=x"] {
        let (status, body, _) = app.get_json(&t, &cookie, &format!("{PATH}{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let long = "word%20".repeat(400);
    assert_eq!(app.get_json(&t, &cookie, &format!("{PATH}?q={long}")).await.0, StatusCode::BAD_REQUEST);

    // Another tenant searches its own (empty) catalog; nobody signed in is refused.
    let other = app.tenant().await;
    let other_admin = app.login(&other.host, &other.admin_email, &other.admin_password).await;
    let (status, theirs, _) = app.get_json(&other, &other_admin, &format!("{PATH}?q=playback")).await;
    assert_eq!(
        (status, theirs["total"].as_u64(), theirs["results"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0), Some(0))
    );
    assert_eq!(app.get_json(&t, &other_admin, &format!("{PATH}?q=playback")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&t.host, &format!("{PATH}?q=playback"), None).await.status, StatusCode::UNAUTHORIZED);
    // A key without catalog:read may not search.
    let (_, key) = app.create_key(&t, &cookie, "no catalog", &["briefs:read"]).await;
    let request = Request::get(format!("{PATH}?q=playback"))
        .header(header::HOST, &t.host)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::FORBIDDEN);
}

/// A search's total is exact up to `SEARCH_COUNT_LIMIT` matches and said to be capped past it,
/// on the page, in its pager and through the REST search.
#[tokio::test(flavor = "multi_thread")]
async fn a_search_counts_its_matches_up_to_a_limit() {
    use app::catalog::service::SEARCH_COUNT_LIMIT;
    use app::catalog::view::PAGE_SIZE;

    let app = TestApp::new().await;
    let t = app.tenant().await;
    let cookie = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let component = |name: String, description: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  description: {description}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n")
    };
    // Half say `ledger` and half `ledgers`: `ledger` matches all of them as a prefix, but fewer
    // than the limit as a whole word, so its count cannot stop at the whole words.
    let described = |i: i64| if i % 2 == 0 { "Posts to the ledger" } else { "Posts to the ledgers" };
    let mut yaml: Vec<String> =
        (0..SEARCH_COUNT_LIMIT + 5).map(|i| component(format!("svc-{i}"), described(i))).collect();
    yaml.extend((0..3).map(|i| component(format!("books-{i}"), "Keeps the journal")));
    let report = service::import(
        &app.db,
        &t.tenant,
        &AuditSource::command_line(),
        &service::Origin::named("generated"),
        service::parse_documents(&yaml.join("---\n")).into_iter().map(Into::into).collect(),
    )
    .await
    .unwrap();
    assert_eq!(report.count(|o| *o == DocumentOutcome::Created) as i64, SEARCH_COUNT_LIMIT + 8);

    let (status, found, _) = app.get_json(&t, &cookie, "/api/catalog/search?q=ledger").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!((found["total"].as_i64(), found["totalCapped"].as_bool()), (Some(SEARCH_COUNT_LIMIT), Some(true)));
    assert_eq!(found["results"].as_array().unwrap().len() as i64, PAGE_SIZE);
    // Whole words, prefixes only, a rare word and a rare prefix.
    for (q, total, capped) in [
        ("posts", SEARCH_COUNT_LIMIT, true),
        ("ledg", SEARCH_COUNT_LIMIT, true),
        ("journal", 3, false),
        ("journ", 3, false),
    ] {
        let (_, found, _) = app.get_json(&t, &cookie, &format!("/api/catalog/search?q={q}")).await;
        assert_eq!((found["total"].as_i64(), found["totalCapped"].as_bool()), (Some(total), Some(capped)), "{q}");
    }

    let page = app.get(&t.host, "/catalog?q=ledger", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("{SEARCH_COUNT_LIMIT}+ entities")), "{}", page.body);
    // Past the counted pages the pager still offers the next one while pages are full.
    let last_counted = SEARCH_COUNT_LIMIT / PAGE_SIZE;
    let page = app.get(&t.host, &format!("/catalog?q=ledger&page={last_counted}"), Some(&cookie)).await;
    assert!(page.body.contains(&format!("Page {last_counted} of {last_counted}+")), "{}", page.body);
    assert!(page.body.contains(&format!("page={}\"", last_counted + 1)), "no Next link: {}", page.body);
    let page = app.get(&t.host, "/catalog?q=journal", Some(&cookie)).await;
    assert!(page.body.contains("3 entities") && page.body.contains("Page 1 of 1"), "{}", page.body);
    assert!(!page.body.contains(">Next<"), "{}", page.body);
}
