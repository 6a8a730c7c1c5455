//! Facet counts kept by the writes (`entity_facet_counts`): after every kind of write they equal
//! a full recount of the entities' counted values, and the API serves them exactly as it serves
//! a facet computed from the values.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::support::{example_documents, TestApp, TestTenant};
use app::audit::service::AuditSource;
use app::catalog::service as catalog;
use app::error::AppError;

/// Rows of the kept counts that differ from a recount (in either direction).
const DIFFERENCES: &str = "\
    WITH recount AS (SELECT p.key, lower(kind) AS kind, p.value, count(*) AS entities \
                       FROM entities, entry_pairs(counted_values) p GROUP BY 1, 2, 3) \
    SELECT count(*) AS n FROM ((SELECT * FROM recount EXCEPT SELECT * FROM entity_facet_counts) \
                     UNION ALL (SELECT * FROM entity_facet_counts EXCEPT SELECT * FROM recount)) differences";

/// Relation rows whose entity is gone (deletes remove them by trigger, not by a foreign key's
/// cascade).
const ORPHANS: &str = "\
    SELECT count(*) AS n FROM entity_relations r \
     WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = r.originating_entity_id)";

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, t: &TestTenant, sql: &'static str) -> i64 {
    let count: Count = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move { diesel::sql_query(sql).get_result(conn).await.map_err(AppError::from) })
        })
        .await
        .unwrap();
    count.n
}

/// The kept counts (a kind filter) and the counts computed from the rows (a predicate that
/// selects the same entities but not by kind alone) of the same facets.
async fn both_facets(app: &TestApp, t: &TestTenant, cookie: &str) -> (Value, Value) {
    let facets = ["spec.type", "metadata.tags", "relations.ownedBy", "spec.lifecycle", "kind"];
    let query: String = facets.iter().map(|f| format!("facet={f}&")).collect();
    let (status, kept, _) =
        app.get_json(t, cookie, &format!("/api/catalog/entity-facets?{query}filter=kind=component")).await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    let body = json!({ "facets": facets, "query": { "$all": [{ "kind": "component" }, { "metadata.name": { "$exists": true } }] } });
    let (status, computed) = app.post_json(t, cookie, "/api/catalog/entity-facets", body).await;
    assert_eq!(status, StatusCode::OK, "{computed}");
    (kept, computed)
}

async fn assert_exact(app: &TestApp, t: &TestTenant, cookie: &str, after: &str) {
    assert_eq!(count(app, t, DIFFERENCES).await, 0, "kept counts differ from a recount after {after}");
    assert_eq!(count(app, t, ORPHANS).await, 0, "relation rows of deleted entities remain after {after}");
    let (kept, computed) = both_facets(app, t, cookie).await;
    assert_eq!(kept, computed, "after {after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn facet_counts_stay_exact_across_every_kind_of_write() {
    let (app, t, cookie) = TestApp::with_examples().await;
    assert_exact(&app, &t, &cookie, "the first import").await;
    let (_, kept, _) =
        app.get_json(&t, &cookie, "/api/catalog/entity-facets?facet=relations.ownedBy&filter=kind=component").await;
    let owners = kept["facets"]["relations.ownedBy"].as_array().unwrap();
    assert!(owners.iter().any(|o| o["value"] == "group:default/team-a"), "owner facet: {kept}");

    // An update that changes a tag and the type.
    let yaml = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: petstore\n  tags: [go, brand-new]\nspec:\n  type: website\n  lifecycle: production\n  owner: team-b\n";
    let saved = app
        .call(
            &t.host,
            "/api/ui/catalog/save",
            &[("original", "component:default/petstore"), ("yaml", yaml)],
            Some(&cookie),
        )
        .await;
    assert!(saved.status.is_success(), "{}", saved.body);
    assert_exact(&app, &t, &cookie, "an update").await;
    let (_, tags, _) =
        app.get_json(&t, &cookie, "/api/catalog/entity-facets?facet=metadata.tags&filter=kind=component").await;
    assert!(tags["facets"]["metadata.tags"].as_array().unwrap().contains(&json!({ "value": "brand-new", "count": 1 })));

    // A create and a delete.
    let api = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "short-lived", "tags": ["go"] }, "spec": { "type": "service", "lifecycle": "experimental", "owner": "team-c" } });
    let (status, created) = app.post_json(&t, &cookie, "/api/catalog/entities", api).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_exact(&app, &t, &cookie, "a create").await;
    let delete =
        Request::delete(format!("/api/catalog/entities/by-uid/{}", created["metadata"]["uid"].as_str().unwrap()))
            .header(header::HOST, &t.host)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
    assert_eq!(app.send(delete).await.status, StatusCode::NO_CONTENT);
    assert_exact(&app, &t, &cookie, "a delete").await;

    // Re-importing the catalog puts petstore back as it was; totals match the rows too.
    let report = catalog::import(
        &app.db,
        &t.tenant,
        &AuditSource::command_line(),
        &catalog::Origin::named("all.yaml"),
        example_documents("all.yaml").await,
    )
    .await
    .unwrap();
    assert!(report.results.iter().any(|r| r.outcome == app::catalog::model::DocumentOutcome::Updated));
    assert_exact(&app, &t, &cookie, "a re-import").await;
    let kept = app.get_json(&t, &cookie, "/api/catalog/entities/by-query?filter=kind=component&limit=1").await.1;
    let body =
        json!({ "query": { "$all": [{ "kind": "component" }, { "metadata.name": { "$exists": true } }] }, "limit": 1 });
    let computed = app.post_json(&t, &cookie, "/api/catalog/entities/by-query", body).await.1;
    assert_eq!(kept["totalItems"], computed["totalItems"]);
    assert!(kept["totalItems"].as_i64().unwrap() > 5, "{kept}");
}

/// Facets of relations come from the relation rows, both directions included (a group's
/// `hasMember` comes from its users' `memberOf`), and count each entity once per target: the
/// same as counting the relations of the entities as served.
#[tokio::test(flavor = "multi_thread")]
async fn relation_facets_count_the_relations_entities_are_served_with() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let (status, all, _) = app.get_json(&t, &cookie, "/api/catalog/entities").await;
    assert_eq!(status, StatusCode::OK);
    for (relation, kind) in [("dependsOn", "component"), ("hasMember", "group"), ("providesApi", "component")] {
        let mut expected: std::collections::BTreeMap<String, i64> = Default::default();
        for entity in all.as_array().unwrap().iter().filter(|e| e["kind"].as_str().unwrap().eq_ignore_ascii_case(kind))
        {
            let targets: std::collections::BTreeSet<&str> = entity["relations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["type"] == relation)
                .map(|r| r["targetRef"].as_str().unwrap())
                .collect();
            for target in targets {
                *expected.entry(target.to_owned()).or_default() += 1;
            }
        }
        assert!(!expected.is_empty(), "the examples have {relation} relations on {kind}s");
        let (status, body, _) = app
            .get_json(&t, &cookie, &format!("/api/catalog/entity-facets?facet=relations.{relation}&filter=kind={kind}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let served: std::collections::BTreeMap<String, i64> = body["facets"][format!("relations.{relation}")]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["value"].as_str().unwrap().to_owned(), f["count"].as_i64().unwrap()))
            .collect();
        assert_eq!(served, expected, "relations.{relation} over {kind}s");
    }
}

#[derive(diesel::QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FacetRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    facet: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// A list view with a facet chosen, and the SQL condition selecting the entities its facets
/// count (`matching`) and the entities its kind tabs count (`tabs`: the facets without the kind).
struct ChosenView {
    view: app::catalog::view::CatalogView,
    matching: &'static str,
    tabs: &'static str,
}

fn chosen_views() -> Vec<ChosenView> {
    use app::catalog::view::CatalogView;
    vec![
        ChosenView {
            view: CatalogView {
                kind: Some("Component".into()),
                lifecycle: Some("production".into()),
                page: 1,
                ..Default::default()
            },
            matching: "lower(kind) = 'component' AND lower(lifecycle) = 'production'",
            tabs: "lower(lifecycle) = 'production'",
        },
        ChosenView {
            view: CatalogView { owner: Some("group:default/team-a".into()), page: 1, ..Default::default() },
            matching: "owner_ref = 'group:default/team-a'",
            tabs: "owner_ref = 'group:default/team-a'",
        },
        ChosenView {
            view: CatalogView {
                kind: Some("api".into()),
                tag: Some("store".into()),
                namespace: Some("Default".into()),
                page: 1,
                ..Default::default()
            },
            matching: "lower(kind) = 'api' AND tags @> '{store}' AND lower(namespace) = 'default'",
            tabs: "tags @> '{store}' AND lower(namespace) = 'default'",
        },
        ChosenView {
            view: CatalogView { spec_type: Some("no-such-type".into()), page: 1, ..Default::default() },
            matching: "lower(spec_type) = 'no-such-type'",
            tabs: "lower(spec_type) = 'no-such-type'",
        },
    ]
}

async fn recount(app: &TestApp, t: &TestTenant, sql: String) -> Vec<FacetRow> {
    let mut rows: Vec<FacetRow> = app
        .db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move { diesel::sql_query(sql).load(conn).await.map_err(AppError::from) })
        })
        .await
        .unwrap();
    rows.sort();
    rows
}

/// Asserts that the list page shows, for each chosen view, a plain recount of the matching
/// entities: facet by facet, the kind tabs and the total. Returns how many facet values the
/// views showed.
async fn assert_list_facets_recount(app: &TestApp, t: &TestTenant, after: &str) -> usize {
    let mut shown_values = 0;
    for ChosenView { view, matching, tabs } in chosen_views() {
        let page = catalog::list_page(&app.db, &app.state.catalog_cache, &t.tenant, &view).await.unwrap();
        let mut shown: Vec<FacetRow> = page
            .facets
            .iter()
            .flat_map(|(param, _, counts)| {
                counts.iter().map(|c| FacetRow { facet: param.clone(), value: c.value.clone(), count: c.count })
            })
            .collect();
        shown.sort();
        let expected = recount(
            app,
            t,
            format!(
                "WITH matching AS (SELECT * FROM entities WHERE {matching}) \
                 SELECT 'owner' AS facet, owner_ref AS value, count(*) AS count FROM matching WHERE owner_ref IS NOT NULL GROUP BY 2 \
                 UNION ALL SELECT 'type', spec_type, count(*) FROM matching WHERE spec_type IS NOT NULL GROUP BY 2 \
                 UNION ALL SELECT 'lifecycle', lifecycle, count(*) FROM matching WHERE lifecycle IS NOT NULL GROUP BY 2 \
                 UNION ALL SELECT 'tag', tag, count(*) FROM matching, unnest(tags) tag GROUP BY 2 \
                 UNION ALL SELECT 'namespace', namespace, count(*) FROM matching GROUP BY 2"
            ),
        )
        .await;
        assert_eq!(shown, expected, "facets of {view:?} after {after}");
        let mut kinds: Vec<FacetRow> = page
            .kinds
            .iter()
            .map(|c| FacetRow { facet: "kind".into(), value: c.value.clone(), count: c.count })
            .collect();
        kinds.sort();
        let expected_kinds = recount(
            app,
            t,
            format!("SELECT 'kind' AS facet, kind AS value, count(*) AS count FROM entities WHERE {tabs} GROUP BY 2"),
        )
        .await;
        assert_eq!(kinds, expected_kinds, "kind tabs of {view:?} after {after}");
        let total = expected.iter().filter(|r| r.facet == "namespace").map(|r| r.count).sum::<i64>();
        assert_eq!(page.total, total, "total of {view:?} after {after}");
        shown_values += shown.len();
    }
    shown_values
}

/// The list page's facets under a chosen facet (counted in memory, `catalog::facet_index`) are
/// a plain recount of the matching entities after every kind of write, and after the change
/// log the index catches up from has lost its entries.
#[tokio::test(flavor = "multi_thread")]
async fn list_facets_under_a_filter_are_a_recount() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let shown = assert_list_facets_recount(&app, &t, "the first import").await;
    assert!(shown > 10, "the examples give the views facets to show ({shown} values)");

    // An update that moves an entity out of one view and into another.
    let yaml = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: petstore\n  tags: [store, brand-new]\nspec:\n  type: website\n  lifecycle: experimental\n  owner: team-a\n";
    let saved = app
        .call(
            &t.host,
            "/api/ui/catalog/save",
            &[("original", "component:default/petstore"), ("yaml", yaml)],
            Some(&cookie),
        )
        .await;
    assert!(saved.status.is_success(), "{}", saved.body);
    assert_list_facets_recount(&app, &t, "an update").await;

    // A create, then its delete.
    let entity = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "short-lived", "tags": ["store", "go"] },
        "spec": { "type": "no-such-type", "lifecycle": "production", "owner": "team-a" } });
    let (status, created) = app.post_json(&t, &cookie, "/api/catalog/entities", entity).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_list_facets_recount(&app, &t, "a create").await;
    let delete =
        Request::delete(format!("/api/catalog/entities/by-uid/{}", created["metadata"]["uid"].as_str().unwrap()))
            .header(header::HOST, &t.host)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
    assert_eq!(app.send(delete).await.status, StatusCode::NO_CONTENT);
    assert_list_facets_recount(&app, &t, "a delete").await;

    // The log keeps the last writes only: an index whose last entry is gone reads everything.
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                diesel::sql_query("DELETE FROM entity_changes").execute(conn).await.map_err(AppError::from)
            })
        })
        .await
        .unwrap();
    let report = catalog::import(
        &app.db,
        &t.tenant,
        &AuditSource::command_line(),
        &catalog::Origin::named("all.yaml"),
        example_documents("all.yaml").await,
    )
    .await
    .unwrap();
    assert!(report.results.iter().any(|r| r.outcome == app::catalog::model::DocumentOutcome::Updated));
    assert_list_facets_recount(&app, &t, "a re-import with the log emptied").await;

    // REST totals under the same filters are the same counts.
    let (_, body, _) = app
        .get_json(&t, &cookie, "/api/catalog/entities/by-query?filter=kind=component,spec.lifecycle=production&limit=1")
        .await;
    let expected = recount(
        &app,
        &t,
        "SELECT 'total' AS facet, '' AS value, count(*) AS count FROM entities \
         WHERE lower(kind) = 'component' AND lower(lifecycle) = 'production'"
            .into(),
    )
    .await;
    assert_eq!(body["totalItems"], json!(expected[0].count), "{body}");
}
