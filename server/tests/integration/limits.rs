//! Bounds on the work one catalog request can ask for: just under a limit is served, just over
//! is a 400 in Backstage's envelope; bytes PostgreSQL cannot hold are input errors.

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::TestApp;
use app::catalog::query::{
    MAX_CONDITIONS, MAX_FACETS, MAX_FIELDS, MAX_LIMIT, MAX_OFFSET, MAX_PAGE, MAX_PREDICATE_DEPTH, MAX_PREDICATE_NODES,
    MAX_REFS, MAX_TERM_CHARS,
};
use server::cli::bench_edge::{largest_filter_query, largest_predicate_query};
use server::rest::MAX_JSON_BYTES;

fn input_error(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["name"], "InputError", "{body}");
}

/// The same sort key sent many times used to double the cost of building the query with each
/// copy; repeats of a column are dropped, so the request is cheap and served.
#[tokio::test(flavor = "multi_thread")]
async fn repeated_sort_keys_are_served_not_multiplied() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let order: Vec<Value> = (0..200).map(|_| json!({ "field": "metadata.name", "order": "asc" })).collect();
    let (status, body) =
        app.post_json(&t, &cookie, "/api/catalog/entities/by-query", json!({ "orderBy": order, "limit": 5 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(5));
    let repeated = "&orderField=metadata.name,asc".repeat(200);
    let (status, _, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entities/by-query?limit=5{repeated}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_conditions_up_to_the_limit_are_served() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let filter = |n: usize| {
        let conditions: Vec<String> = (0..n).map(|i| format!("metadata.annotations.example.com/k{i}")).collect();
        format!("/api/catalog/entities/by-query?filter={}", conditions.join(","))
    };
    let (status, _, _) = app.get_json(&t, &cookie, &filter(MAX_CONDITIONS)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = app.get_json(&t, &cookie, &filter(MAX_CONDITIONS + 1)).await;
    input_error(status, &body);
}

/// The most expensive queries the limits allow are served (their cost is measured by
/// `make bench`, not timed here); one step past each bound is a 400.
#[tokio::test(flavor = "multi_thread")]
async fn the_largest_legal_queries_are_served_and_one_more_is_refused() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let by_query = "/api/catalog/entities/by-query";
    let largest = largest_predicate_query();
    let (status, body) = app.post_json(&t, &cookie, by_query, largest.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["items"].as_array().is_some_and(|items| !items.is_empty()), "every component matches: {body}");
    let (status, body, _) = app.get_json(&t, &cookie, &largest_filter_query()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["items"].as_array().is_some_and(|items| !items.is_empty()), "every component matches: {body}");

    // One node more: another leaf in the top-level `$all`.
    let mut wider = largest.clone();
    wider["query"]["$all"].as_array_mut().unwrap().push(json!({ "kind": "component" }));
    let (status, body) = app.post_json(&t, &cookie, by_query, wider).await;
    input_error(status, &body);
    // One level deeper, with fewer nodes than the limit.
    let mut deep = json!({ "kind": "component" });
    for _ in 1..=MAX_PREDICATE_DEPTH {
        deep = json!({ "$not": deep });
    }
    let (status, body) = app.post_json(&t, &cookie, by_query, json!({ "query": deep })).await;
    input_error(status, &body);
    const { assert!(MAX_PREDICATE_DEPTH + 1 < MAX_PREDICATE_NODES) };

    for (body, served) in [
        (json!({ "offset": MAX_OFFSET }), true),
        (json!({ "offset": MAX_OFFSET + 1 }), false),
        (json!({ "limit": MAX_PAGE }), true),
        (json!({ "limit": MAX_PAGE + 1 }), false),
    ] {
        let (status, answer) = app.post_json(&t, &cookie, by_query, body.clone()).await;
        match served {
            true => assert_eq!(status, StatusCode::OK, "{body}: {answer}"),
            false => input_error(status, &answer),
        }
    }
    let (status, _, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entities?limit={MAX_LIMIT}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entities?limit={}", MAX_LIMIT + 1)).await;
    input_error(status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn negative_offsets_nul_bytes_and_forged_cursors_are_input_errors() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let by_query = "/api/catalog/entities/by-query";
    let (status, body) = app.post_json(&t, &cookie, by_query, json!({ "offset": -1 })).await;
    input_error(status, &body);

    for path in ["/api/catalog/entities?filter=kind%3D%00", "/api/catalog/entities/by-name/component/default/%00"] {
        let (status, body, _) = app.get_json(&t, &cookie, path).await;
        input_error(status, &body);
    }
    let (status, body) = app.post_json(&t, &cookie, by_query, json!({ "query": { "kind": "a\u{0}b" } })).await;
    input_error(status, &body);

    // A cursor is base64 JSON anyone can write: what it holds is checked like parameters, and
    // the limit is never taken from it.
    let (_, page, _) = app.get_json(&t, &cookie, &format!("{by_query}?limit=2&fields=metadata.name")).await;
    let cursor = page["pageInfo"]["nextCursor"].as_str().expect("a next page");
    let mut decoded: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
    assert!(decoded["request"]["offset"].is_i64(), "the cursor holds the query: {decoded}");
    assert!(decoded["request"]["limit"].is_null() && decoded["fields"].is_null(), "{decoded}");
    let mut forged = decoded.clone();
    forged["request"]["offset"] = json!(-1);
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let (status, body, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entities?after={forged}")).await;
    input_error(status, &body);
    let mut oversized = decoded.clone();
    oversized["request"]["limit"] = json!(1_000_000);
    let oversized = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&oversized).unwrap());
    let (status, body, _) = app.get_json(&t, &cookie, &format!("{by_query}?cursor={oversized}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(20), "a limit inside a cursor is ignored: {body}");
    decoded["request"]["offset"] = json!(2);
    let honest = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&decoded).unwrap());
    let (status, _, _) = app.get_json(&t, &cookie, &format!("{by_query}?cursor={honest}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_facets_refs_and_terms_are_bounded() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let fields = |n: usize| (0..n).map(|i| format!("metadata.annotations.f{i}")).collect::<Vec<_>>().join(",");
    let (status, _, _) =
        app.get_json(&t, &cookie, &format!("/api/catalog/entities?limit=1&fields={}", fields(MAX_FIELDS))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) =
        app.get_json(&t, &cookie, &format!("/api/catalog/entities?limit=1&fields={}", fields(MAX_FIELDS + 1))).await;
    input_error(status, &body);

    let facets = |n: usize| (0..n).map(|i| format!("facet=metadata.annotations.f{i}")).collect::<Vec<_>>().join("&");
    let (status, _, _) = app.get_json(&t, &cookie, &format!("/api/catalog/entity-facets?{}", facets(MAX_FACETS))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) =
        app.get_json(&t, &cookie, &format!("/api/catalog/entity-facets?{}", facets(MAX_FACETS + 1))).await;
    input_error(status, &body);

    let refs =
        |n: usize| json!({ "entityRefs": (0..n).map(|i| format!("component:default/c{i}")).collect::<Vec<_>>() });
    let (status, body) = app.post_json(&t, &cookie, "/api/catalog/entities/by-refs", refs(MAX_REFS)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(MAX_REFS));
    let (status, body) = app.post_json(&t, &cookie, "/api/catalog/entities/by-refs", refs(MAX_REFS + 1)).await;
    input_error(status, &body);

    let term = |n: usize| format!("/api/catalog/entities/by-query?fullTextFilterTerm={}", "a".repeat(n));
    let (status, _, _) = app.get_json(&t, &cookie, &term(MAX_TERM_CHARS)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) = app.get_json(&t, &cookie, &term(MAX_TERM_CHARS + 1)).await;
    input_error(status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_and_nul_in_bodies_and_forms_are_refused() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let huge = json!({ "entityRefs": ["component:default/x"], "padding": "x".repeat(MAX_JSON_BYTES) });
    let (status, body) = app.post_json(&t, &cookie, "/api/catalog/entities/by-refs", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["name"], "PayloadTooLargeError");

    let (status, body) = app
        .post_json(&t, &cookie, "/api/catalog/entities/by-refs", json!({ "entityRefs": ["component:default/a\u{0}"] }))
        .await;
    input_error(status, &body);
    let entity = json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": { "name": "nul", "description": "a\u{0}b" }, "spec": { "type": "service", "owner": "x", "lifecycle": "y" },
    });
    let (status, body) = app.post_json(&t, &cookie, "/api/catalog/entities", entity).await;
    input_error(status, &body);

    // Server functions read forms: a NUL in any field is refused before the function runs.
    let response = app.call(&t.host, "/api/ui/catalog/save", &[("yaml", "kind: a\0b")], Some(&cookie)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.body);
    // An absurd page number of the catalog list is clamped or refused, never a failure.
    let response = app.get(&t.host, "/catalog?page=9223372036854775807", Some(&cookie)).await;
    assert!(response.status.is_success() || response.status.is_client_error(), "{}", response.status);
}
