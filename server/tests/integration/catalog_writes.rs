//! Writing one entity: what the editor shows is what it saves, and concurrent writers of one
//! entity never both win.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

/// A field called `uid` anywhere in an entity is the user's: only the server-managed
/// `metadata.uid` stays out of the editor.
#[tokio::test(flavor = "multi_thread")]
async fn the_editor_keeps_user_fields_called_uid() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let yaml = "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: orders-db\nspec:\n  type: database\n  owner: team-a\n  replica:\n    uid: replica-7\n";
    let saved = app.call(&t.host, "/api/ui/catalog/save", &[("original", ""), ("yaml", yaml)], Some(&cookie)).await;
    assert!(saved.status.is_success(), "{}", saved.body);
    let (_, entity, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/resource/default/orders-db").await;
    let uid = entity["metadata"]["uid"].as_str().expect("served with its uid").to_owned();

    let editor = app.get(&t.host, "/catalog/default/resource/orders-db/edit", Some(&cookie)).await;
    assert_eq!(editor.status, StatusCode::OK);
    assert!(editor.body.contains("uid: replica-7"), "the user's field is in the editor: {}", editor.body);
    assert!(!editor.body.contains(&format!("uid: {uid}")), "the server-managed uid is not");

    // Saving what the editor shows keeps the field.
    let start = editor.body.find("apiVersion:").expect("the editor holds the YAML");
    let end = start + editor.body[start..].find("</textarea>").expect("one textarea");
    let shown = editor.body[start..end].to_owned();
    let again = app
        .call(
            &t.host,
            "/api/ui/catalog/save",
            &[("original", "resource:default/orders-db"), ("yaml", &shown)],
            Some(&cookie),
        )
        .await;
    assert!(again.status.is_success(), "{}", again.body);
    let (_, entity, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-name/resource/default/orders-db").await;
    assert_eq!(entity["spec"]["replica"]["uid"], "replica-7");
    assert_eq!(entity["metadata"]["uid"], uid.as_str(), "an edit keeps the entity's identity");
}

/// Two creates of one entity at the same moment: one is created, the other is told it exists,
/// and nothing is half-written.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creates_of_one_entity_give_one_success_and_one_conflict() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    for round in 0..5 {
        let name = format!("race-{round}");
        let body = |owner: &str| {
            json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "System",
                "metadata": { "name": name }, "spec": { "owner": owner } })
        };
        let path = "/api/catalog/entities";
        let (first, second) = tokio::join!(
            app.post_json(&t, &cookie, path, body("team-a")),
            app.post_json(&t, &cookie, path, body("team-b"))
        );
        let mut statuses = [first.0, second.0];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{} / {}", first.1, second.1);
        let winner = if first.0 == StatusCode::CREATED { &first.1 } else { &second.1 };
        let (status, stored, _) =
            app.get_json(&t, &cookie, &format!("/api/catalog/entities/by-name/system/default/{name}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stored["spec"]["owner"], winner["spec"]["owner"], "the stored entity is the one that won");
    }
}

/// A delete is a catalog write like the others: the cached count of a query moves with it.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_entity_updates_cached_counts() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let system = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "System",
        "metadata": { "name": "doomed" }, "spec": { "owner": "team-a" } });
    let (status, created) = app.post_json(&t, &cookie, "/api/catalog/entities", system).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let count = "/api/catalog/entities/by-query?filter=kind=system";
    assert_eq!(app.get_json(&t, &cookie, count).await.1["totalItems"], 1);

    let uid = created["metadata"]["uid"].as_str().unwrap();
    let delete = axum::http::Request::delete(format!("/api/catalog/entities/by-uid/{uid}"))
        .header(axum::http::header::HOST, &t.host)
        .header(axum::http::header::COOKIE, &cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(delete).await.status, StatusCode::NO_CONTENT);
    let (_, after, _) = app.get_json(&t, &cookie, count).await;
    assert_eq!((after["totalItems"].clone(), after["items"].clone()), (json!(0), json!([])));
}
