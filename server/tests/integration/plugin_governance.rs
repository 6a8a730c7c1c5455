//! Governing a tenant's plugin set beyond single changes: bulk operations as one revision,
//! maintainers' requests decided by admins, the tenant's directory policy, co-installs across
//! tenants (aggregates of at least five), and the planning views (dependencies, another
//! release's compatibility, metrics) — against the real stack and the fixture registry.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::plugins::{
    fixture_tarball, packuments, platform, refreshed, registry, send, yaml, ARGO, RADAR, RADAR_BACKEND, RADAR_COMMON,
};
use crate::support::{TestApp, TestTenant};
use app::auth::model::Role;
use app::notifications::model::{NotificationKind, NotificationsPage};

fn install(plugin: &str, versions: Value) -> Value {
    json!({"operation": "install", "plugin": plugin, "versions": versions})
}

async fn current_revision(app: &TestApp, t: &TestTenant, cookie: &str) -> i64 {
    let (_, installed, _) = app.get_json(t, cookie, "/api/plugins/installed").await;
    installed["platform"]["current_revision"].as_i64().unwrap()
}

async fn told(app: &TestApp, t: &TestTenant, cookie: &str) -> Vec<String> {
    let page: NotificationsPage = app.call(&t.host, "/api/notifications", &[], Some(cookie)).await.json();
    page.items.into_iter().filter(|n| n.kind == NotificationKind::PluginRequest).map(|n| n.title).collect()
}

#[tokio::test]
async fn a_bulk_change_is_one_revision_and_a_refused_step_changes_nothing() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    platform(&app, &t, &cookie, "1.46.0").await;
    let kit = json!({"operations": [
        install("tech-radar", json!({RADAR: "1.13.0", RADAR_BACKEND: "*"})),
        install("roadie-argocd", json!({ARGO: "2.9.0"})),
    ], "reason": "the guild's kit"});

    let mut dry = kit.clone();
    dry["dryRun"] = json!(true);
    let (status, would) = send(&app, &t, &cookie, Method::POST, "/api/plugins/operations", dry).await;
    assert_eq!(status, StatusCode::OK, "{would}");
    assert_eq!(would["revision"], 1);
    assert_eq!(current_revision(&app, &t, &cookie).await, 0, "a dry run changes nothing");

    let (status, made) = send(&app, &t, &cookie, Method::POST, "/api/plugins/operations", kit).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["revision"], 1);
    let (file, tag) = yaml(&app, &t, &cookie).await;
    assert!(file.contains(&format!("{RADAR}@1.13.0")) && file.contains(&format!("{ARGO}@2.9.0")), "{file}");
    let (_, installed, _) = app.get_json(&t, &cookie, "/api/plugins/installed").await;
    assert_eq!(installed["history"][0]["operation"], "bulk");
    assert_eq!(installed["history"][0]["reason"], "the guild's kit");

    // Step 3 cannot be made (the backend needs a host API no release ships): none is made.
    let broken = json!({"operations": [
        {"operation": "update"},
        {"operation": "toggle", "plugin": "roadie-argocd", "disabled": true},
        install("tech-radar", json!({RADAR_BACKEND: "1.21.0"})),
    ]});
    let (status, refused) = send(&app, &t, &cookie, Method::POST, "/api/plugins/operations", broken).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["explanation"][0], "Step 3 (install tech-radar):", "{refused}");
    assert!(refused["explanation"].to_string().contains("backend-plugin-api"), "{refused}");
    assert_eq!(current_revision(&app, &t, &cookie).await, 1);
    assert_eq!(yaml(&app, &t, &cookie).await.1, tag, "the file is unchanged");

    for bad in [
        json!({"operations": []}),
        json!({"operations": [{"operation": "rollback", "revision": 0}]}),
        json!({"operations": [{"operation": "bulk", "operations": [{"operation": "update"}]}]}),
        json!({"operations": [{"operation": "install", "plugin": "x\u{0}"}]}),
    ] {
        let (status, body) = send(&app, &t, &cookie, Method::POST, "/api/plugins/operations", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {body}");
    }
    // An error inside a step says which step; configuration in a step is checked as in PUT /config.
    let (status, body) = send(
        &app,
        &t,
        &cookie,
        Method::POST,
        "/api/plugins/operations",
        json!({"operations": [{"operation": "update"}, {"operation": "uninstall", "plugin": "nope"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Step 2 (uninstall nope): "), "{body}");
    for config in [json!(["a"]), json!("- not a mapping"), json!({"techRadar": {"url": "x\u{0}"}}), json!("a: \"\\0\"")]
    {
        let step = json!({"operations": [{"operation": "configure", "package": RADAR_BACKEND, "config": config}]});
        let (status, body) = send(&app, &t, &cookie, Method::POST, "/api/plugins/operations", step).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{config} → {body}");
    }
    let too_many: Vec<Value> = (0..51).map(|_| json!({"operation": "update"})).collect();
    let (status, _) =
        send(&app, &t, &cookie, Method::POST, "/api/plugins/operations", json!({"operations": too_many})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The planning views of the set the bulk change made.
    let (status, graph, _) = app.get_json(&t, &cookie, "/api/plugins/dependencies").await;
    assert_eq!(status, StatusCode::OK, "{graph}");
    let package =
        |name: &str| graph["packages"].as_array().unwrap().iter().find(|p| p["package"] == name).unwrap().clone();
    let radar = package(RADAR);
    let dependency =
        |name: &str| radar["dependencies"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap().clone();
    assert_eq!(dependency(RADAR_COMMON)["provided"], "installed");
    assert_eq!(dependency("@backstage/core-plugin-api")["provided"], "platform");
    assert_eq!(dependency("@backstage/core-plugin-api")["version"], "1.12.1", "what Backstage 1.46.0 pins");
    assert_eq!(dependency("react")["provided"], "external");
    let needed_by = package(RADAR_COMMON)["dependents"].clone();
    assert!(needed_by.as_array().unwrap().contains(&json!(RADAR)), "{needed_by}");

    let (_, same, _) = app.get_json(&t, &cookie, "/api/plugins/compatibility?release=1.46.0").await;
    assert_eq!(same["fits"], true, "{same}");
    // On 1.44.0 the radar frontend must go back to 1.11.0; Argo CD 2.9.0 stays.
    let (status, older, _) = app.get_json(&t, &cookie, "/api/plugins/compatibility?release=1.44.0").await;
    assert_eq!(status, StatusCode::OK, "{older}");
    assert_eq!(older["fits"], false, "{older}");
    assert_eq!(older["changes"], json!([{"package": RADAR, "before": "1.13.0", "after": "1.11.0", "notes": []}]));
    let row = |report: &Value, name: &str| {
        report["packages"].as_array().unwrap().iter().find(|p| p["package"] == name).unwrap().clone()
    };
    assert_eq!(row(&older, RADAR)["compat"], "Incompatible");
    assert_eq!(row(&older, RADAR)["update"], "1.11.0");
    assert_eq!(row(&older, ARGO)["compat"], "Compatible");
    // On 1.30.0 nothing installed fits as it is: each package that does not is moved, or the
    // report says why the set cannot move.
    let (_, ancient, _) = app.get_json(&t, &cookie, "/api/plugins/compatibility?release=1.30.0").await;
    assert_eq!(ancient["fits"], false);
    let explained = !ancient["explanation"].as_array().unwrap().is_empty();
    for package in ancient["packages"].as_array().unwrap().iter().filter(|p| p["compat"] == "Incompatible") {
        assert!(!package["update"].is_null() || explained, "{ancient}");
    }
    let (status, _, _) = app.get_json(&t, &cookie, "/api/plugins/compatibility?release=9.9.9").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = app.get_json(&t, &cookie, "/api/plugins/compatibility").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, metrics, _) = app.get_json(&t, &cookie, "/api/plugins/metrics").await;
    assert_eq!(metrics["revision"], 1, "{metrics}");
    assert_eq!(metrics["revisions"], 1);
    assert_eq!(metrics["installed"], 3, "radar, its backend and Argo CD: {metrics}");
    assert_eq!(metrics["enabled"], 3);
    assert_eq!(metrics["libraries"], 1, "tech-radar-common");
    assert_eq!(metrics["changes_30d"], json!({"applied": 1, "refused": 1}));
    assert_eq!(metrics["updates_available"], 1, "radar 1.14.0");
    assert_eq!(metrics["pending_requests"], 0);
}

#[tokio::test]
async fn maintainers_ask_admins_decide_and_a_request_is_applied_once() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, admin) = app.signed_in_tenant().await;
    platform(&app, &t, &admin, "1.46.0").await;
    let domain = t.host.replace(".localhost", ".example.com");
    let (_, maintainer) = app.member(&t, &admin, &format!("mia@{domain}"), Role::Maintainer).await;
    let (_, developer) = app.member(&t, &admin, &format!("dev@{domain}"), Role::Developer).await;
    let argo = json!({"operation": "install", "plugin": "roadie-argocd", "versions": {ARGO: "2.9.0"}});

    let (status, _) = send(&app, &t, &maintainer, Method::POST, "/api/plugins/install", argo.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "maintainers ask; admins install");
    let (status, _) = send(&app, &t, &developer, Method::POST, "/api/plugins/requests", argo.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(&app, &t, &maintainer, Method::POST, "/api/plugins/requests", argo.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a request says why: {body}");

    let mut asked = argo.clone();
    asked["reason"] = json!("deploy status on our service pages");
    let (status, filed) = send(&app, &t, &maintainer, Method::POST, "/api/plugins/requests", asked).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["resolution"]["changes"][0]["after"], "2.9.0", "what it would do");
    let id = filed["id"].as_str().unwrap().to_owned();
    assert_eq!(current_revision(&app, &t, &admin).await, 0, "asking changes nothing");

    // What could not be made now is not filed.
    let impossible = json!({"operation": "install", "plugin": "tech-radar", "versions": {RADAR_BACKEND: "1.21.0"},
        "reason": "the newest backend"});
    let (status, refused) = send(&app, &t, &maintainer, Method::POST, "/api/plugins/requests", impossible).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (_, listed, _) = app.get_json(&t, &admin, "/api/plugins/requests").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["state"], "pending");
    assert_eq!(listed[0]["summary"], "Install roadie-argocd");
    assert_eq!(listed[0]["requester"], "Val Viewer");
    assert!(told(&app, &t, &admin).await.iter().any(|title| title.contains("asks: Install roadie-argocd")));

    let (status, _) =
        send(&app, &t, &maintainer, Method::POST, &format!("/api/plugins/requests/{id}/approve"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "maintainers do not approve");
    let approve = format!("/api/plugins/requests/{id}/approve");
    let (status, made) = send(&app, &t, &admin, Method::POST, &approve, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["revision"], 1);
    assert!(yaml(&app, &t, &admin).await.0.contains(&format!("{ARGO}@2.9.0")));
    let (status, again) = send(&app, &t, &admin, Method::POST, &approve, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "applied once: {again}");
    assert_eq!(current_revision(&app, &t, &admin).await, 1);
    let (_, listed, _) = app.get_json(&t, &maintainer, "/api/plugins/requests").await;
    assert_eq!(listed[0]["state"], "approved");
    assert_eq!(listed[0]["revision"], 1);
    let (_, installed, _) = app.get_json(&t, &admin, "/api/plugins/installed").await;
    let reason = installed["history"][0]["reason"].as_str().unwrap();
    assert_eq!(reason, "deploy status on our service pages (asked by Val Viewer)");
    assert!(told(&app, &t, &maintainer).await.iter().any(|title| title.starts_with("Approved by")));

    // A rejection carries the admin's note to the maintainer.
    let radar = json!({"operation": "install", "plugin": "tech-radar", "versions": {RADAR: "1.13.0", RADAR_BACKEND: "*"},
        "reason": "a radar for the guild"});
    let (_, filed) = send(&app, &t, &maintainer, Method::POST, "/api/plugins/requests", radar).await;
    let reject = format!("/api/plugins/requests/{}/reject", filed["id"].as_str().unwrap());
    let (status, _) = send(&app, &t, &admin, Method::POST, &reject, json!({"note": "after the freeze"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, &t, &admin, Method::POST, &reject, json!({"note": "twice"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed, _) = app.get_json(&t, &maintainer, "/api/plugins/requests").await;
    let rejected = listed.as_array().unwrap().iter().find(|r| r["state"] == "rejected").unwrap();
    assert_eq!(rejected["note"], "after the freeze");
    assert!(told(&app, &t, &maintainer).await.iter().any(|title| title.starts_with("Rejected by")));
    assert_eq!(current_revision(&app, &t, &admin).await, 1);

    let (status, _) = send(&app, &t, &admin, Method::POST, "/api/plugins/requests/not-a-uuid/approve", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (other, other_admin) = app.signed_in_tenant().await;
    let (status, _) = send(&app, &other, &other_admin, Method::POST, &approve, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's request does not exist there");
    // A request's reason is for admins and the maintainer who asked, not every reader.
    let (_, mine) = send(
        &app,
        &t,
        &admin,
        Method::POST,
        "/api/plugins/requests",
        json!({"operation": "toggle", "plugin": "roadie-argocd", "disabled": true, "reason": "quiet for the freeze"}),
    )
    .await;
    assert!(mine["id"].is_string(), "{mine}");
    let (_, theirs, _) = app.get_json(&t, &maintainer, "/api/plugins/requests").await;
    assert!(!theirs.to_string().contains("quiet for the freeze"), "a maintainer sees their own: {theirs}");
    let (_, all, _) = app.get_json(&t, &admin, "/api/plugins/requests").await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let (status, _, _) = app.get_json(&t, &developer, "/api/plugins/requests").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, overview, _) = app.get_json(&t, &developer, "/api/plugins/installed").await;
    assert_eq!(overview["requests"], json!([]));
    let actions = app.audit_actions(&t.tenant).await;
    let count = |name: &str| actions.iter().filter(|(a, _, _)| a == name).count();
    assert_eq!(count("plugin.change_requested"), 3);
    assert_eq!(count("plugin.change_request_decided"), 2);
}

#[tokio::test]
async fn a_policy_hides_and_refuses_what_it_does_not_allow_and_keeps_what_runs() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    platform(&app, &t, &cookie, "1.46.0").await;
    let (status, _) = send(
        &app,
        &t,
        &cookie,
        Method::POST,
        "/api/plugins/install",
        json!({"plugin": "roadie-argocd", "versions": {ARGO: "2.9.0"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, before, _) = app.get_json(&t, &cookie, "/api/plugins").await;

    let (status, _) =
        send(&app, &t, &cookie, Method::PUT, "/api/plugins/policy", json!({"support": ["supported"]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, policy, _) = app.get_json(&t, &cookie, "/api/plugins/policy").await;
    assert_eq!(policy, json!({"support": ["supported"], "blocked": [], "active_only": false}));
    let (_, after, _) = app.get_json(&t, &cookie, "/api/plugins").await;
    let items = after["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|p| p["support"] == "supported"), "{after}");
    assert_eq!(after["total"].as_u64().unwrap() + after["hidden"].as_u64().unwrap(), before["total"].as_u64().unwrap());
    let (_, detail, _) = app.get_json(&t, &cookie, "/api/plugins/redhat-argocd").await;
    assert!(detail["outside_policy"].as_str().unwrap().contains("only supported plugins"), "{detail}");

    // Refused whole, also inside a bulk change, and audited; what runs stays and still moves.
    let (status, refused) =
        send(&app, &t, &cookie, Method::POST, "/api/plugins/install", json!({"plugin": "redhat-argocd"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["explanation"][0].as_str().unwrap().contains("is community"), "{refused}");
    let bulk = json!({"operations": [install("tech-radar", json!({RADAR: "1.13.0", RADAR_BACKEND: "*"})),
        {"operation": "install", "plugin": "pagerduty"}]});
    let (status, refused) = send(&app, &t, &cookie, Method::POST, "/api/plugins/operations", bulk).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(refused["explanation"][0].as_str().unwrap().contains("PagerDuty is community"), "{refused}");
    assert_eq!(current_revision(&app, &t, &cookie).await, 1);
    let disable = json!({"plugin": "roadie-argocd", "disabled": true});
    let (status, toggled) = send(&app, &t, &cookie, Method::POST, "/api/plugins/toggle", disable).await;
    assert_eq!(status, StatusCode::CREATED, "an installed community plugin may still be changed: {toggled}");

    let (status, _) =
        send(&app, &t, &cookie, Method::PUT, "/api/plugins/policy", json!({"blocked": ["tech-radar"]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, refused) =
        send(&app, &t, &cookie, Method::POST, "/api/plugins/install", json!({"plugin": "tech-radar"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["explanation"][0], "Your organisation's policy blocks Tech Radar.");
    // Blocking Argo CD refuses a rollback that would bring it back after its removal.
    let (status, _) =
        send(&app, &t, &cookie, Method::DELETE, "/api/plugins/uninstall", json!({"plugin": "roadie-argocd"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &app,
        &t,
        &cookie,
        Method::PUT,
        "/api/plugins/policy",
        json!({"blocked": ["tech-radar", "roadie-argocd"]}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, refused) =
        send(&app, &t, &cookie, Method::POST, "/api/plugins/rollback", json!({"revision": 1})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["explanation"][0], "Your organisation's policy blocks Roadie Argo CD.");

    for bad in [
        json!({"support": ["gold"]}),
        json!({"blocked": ["no-such-plugin"]}),
        json!({"support": [], "colour": "red"}),
        json!({"blocked": ["\u{0}"]}),
    ] {
        let (status, body) = send(&app, &t, &cookie, Method::PUT, "/api/plugins/policy", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {body}");
    }
    let (_, maintainer) =
        app.member(&t, &cookie, &format!("m@{}", t.host.replace(".localhost", ".example.com")), Role::Maintainer).await;
    let (status, _) = send(&app, &t, &maintainer, Method::PUT, "/api/plugins/policy", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(a, _, _)| a == "plugin.policy_changed").count(), 3);
    assert!(actions.iter().any(|(a, target, o)| a == "plugin.changed" && target == "redhat-argocd" && o == "failure"));
}

/// The plugins the control plane's record holds for `tenant`.
async fn recorded(app: &TestApp, tenant: &TestTenant) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        plugin: String,
    }
    let id = tenant.tenant.id.0;
    let rows: Vec<Row> = app
        .db
        .with_control(move |conn| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                diesel::sql_query("SELECT plugin FROM control.plugin_installs WHERE tenant_id = $1 ORDER BY plugin")
                    .bind::<diesel::sql_types::BigInt, _>(id)
                    .load(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
    rows.into_iter().map(|r| r.plugin).collect()
}

async fn clear_sentry(app: &TestApp) {
    app.db
        .with_control(|conn| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                diesel::sql_query("DELETE FROM control.plugin_installs WHERE plugin = 'sentry'")
                    .execute(conn)
                    .await
                    .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
}

/// Marks `tenant` as having installed `plugins` in the control plane's record, as its
/// revisions would.
async fn record_installs(app: &TestApp, tenant: &TestTenant, plugins: &'static [&'static str]) {
    let id = tenant.tenant.id.0;
    app.db
        .with_control(move |conn| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                diesel::sql_query(
                    "INSERT INTO control.plugin_installs (tenant_id, plugin) SELECT $1, unnest($2::text[])",
                )
                .bind::<diesel::sql_types::BigInt, _>(id)
                .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(plugins)
                .execute(conn)
                .await
                .map_err(app::error::AppError::from)
            })
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn co_installs_are_recommended_only_from_five_other_organisations_and_name_none() {
    let app = TestApp::new().await;
    refreshed(&app).await;
    let (t, cookie) = app.signed_in_tenant().await;
    platform(&app, &t, &cookie, "1.46.0").await;
    let (status, _) = send(
        &app,
        &t,
        &cookie,
        Method::POST,
        "/api/plugins/install",
        json!({"plugin": "roadie-argocd", "versions": {ARGO: "2.9.0"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // The revision recorded the tenant's running plugins for the aggregates; disabling one
    // takes it out, enabling it puts it back.
    assert_eq!(recorded(&app, &t).await, vec!["roadie-argocd".to_owned()]);
    let toggle = |disabled: bool| json!({"plugin": "roadie-argocd", "disabled": disabled});
    send(&app, &t, &cookie, Method::POST, "/api/plugins/toggle", toggle(true)).await;
    assert_eq!(recorded(&app, &t).await, Vec::<String>::new());
    send(&app, &t, &cookie, Method::POST, "/api/plugins/toggle", toggle(false)).await;
    assert_eq!(recorded(&app, &t).await, vec!["roadie-argocd".to_owned()]);
    // Runs of this test against a database kept between runs start from no Sentry records.
    clear_sentry(&app).await;

    // Sentry alongside Roadie's Argo CD is recorded by this test only.
    let sentry = |list: &Value| list.as_array().unwrap().iter().find(|r| r["plugin"]["id"] == "sentry").cloned();
    let mut others = Vec::new();
    for _ in 0..4 {
        let other = app.tenant().await;
        record_installs(&app, &other, &["roadie-argocd", "sentry"]).await;
        others.push(other);
    }
    let (_, list, _) = app.get_json(&t, &cookie, "/api/plugins/recommendations").await;
    assert_eq!(sentry(&list), None, "four organisations could be told apart: {list}");

    let fifth = app.tenant().await;
    record_installs(&app, &fifth, &["roadie-argocd", "sentry"]).await;
    others.push(fifth);
    let (status, list, _) = app.get_json(&t, &cookie, "/api/plugins/recommendations").await;
    assert_eq!(status, StatusCode::OK);
    let found = sentry(&list).unwrap_or_else(|| panic!("{list}"));
    assert_eq!(found["tenants"], 5);
    assert_eq!(found["alongside"], "Roadie Argo CD");
    assert_eq!(found["reason"], "5 other organisations that run Roadie Argo CD also run Sentry.");
    let text = list.to_string();
    assert!(others.iter().all(|o| !text.contains(o.tenant.slug.as_str())), "no organisation is named");
}

/// The OpenAPI document and the endpoint table agree both ways: every route served is
/// described, every operation described is routed.
#[tokio::test]
async fn the_plugins_openapi_document_describes_exactly_the_routes_served() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let (status, doc, _) = app.get_json(&t, &cookie, "/api/plugins/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let base = doc["servers"][0]["url"].as_str().unwrap();
    let served = server::rest::plugins::endpoints();
    let documented = |method: &str, path: &str| {
        let path = path.strip_prefix(base).unwrap_or(path).replace("{*path}", "{path}");
        !doc["paths"][path.as_str()][method.to_lowercase()].is_null()
    };
    let undocumented: Vec<String> = served
        .iter()
        .filter(|e| !documented(e.method.as_str(), e.path))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(undocumented.is_empty(), "served but not described: {undocumented:#?}");
    let mut described = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            described += 1;
            let routed = served.iter().any(|e| {
                e.method.as_str().eq_ignore_ascii_case(method)
                    && e.path.strip_prefix(base).unwrap_or(e.path).replace("{*path}", "{path}") == *path
            });
            assert!(routed, "{method} {path} is described but not served");
        }
    }
    assert_eq!(described, served.len());
}

/// A tenant's own plugin: entered with its packages, read from the registry, installed and
/// verified like any other — and to another tenant it does not exist.
#[tokio::test]
async fn a_private_plugin_is_read_from_the_registry_and_seen_only_by_its_tenant() {
    // A name of this run's own: the shared directory keeps packages between runs.
    let costs = format!("@acme{}/backstage-plugin-costs", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let costs = costs.as_str();
    let mut published = packuments();
    let integrity = app::plugins::artifacts::sri(&fixture_tarball(costs, "1.2.0"));
    published.insert(
        costs.to_owned(),
        json!({"name": costs, "dist-tags": {"latest": "1.2.0"}, "time": {"1.2.0": "2026-11-30T10:00:00Z"},
               "versions": {"1.2.0": {"name": costs, "version": "1.2.0",
                   "dependencies": {"@backstage/core-plugin-api": "^1.12.0", "@backstage/frontend-plugin-api": "^0.13.0"},
                   "backstage": {"role": "frontend-plugin", "pluginId": "acme-costs"},
                   "dist": {"tarball": app::plugins::artifacts::tarball_url("https://registry.example", costs, "1.2.0"),
                            "integrity": integrity}}}}),
    );
    let app = TestApp::init().npm_registry(&registry(published).await).start().await;
    let (t, cookie) = app.signed_in_tenant().await;
    platform(&app, &t, &cookie, "1.46.0").await;
    let entry = json!({"name": "costs", "title": "Acme Costs", "summary": "What each team spends", "category": "Cost",
                       "packages": [costs]});
    let (status, added) = send(&app, &t, &cookie, Method::POST, "/api/plugins/private", entry.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(id, format!("t{}.costs", t.tenant.id.0));
    assert_eq!(added["versions"], 1, "read from the registry when it was added");
    let (status, _) = send(&app, &t, &cookie, Method::POST, "/api/plugins/private", entry).await;
    assert_eq!(status, StatusCode::CONFLICT, "one entry per name");

    let (_, found, _) = app.get_json(&t, &cookie, "/api/plugins?q=acme%20costs").await;
    assert_eq!(found["items"][0]["id"], id.as_str(), "{found}");
    assert_eq!(found["items"][0]["support"], "private");
    let (status, made) = send(&app, &t, &cookie, Method::POST, "/api/plugins/install", json!({"plugin": id})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (_, health, _) = app.get_json(&t, &cookie, "/api/plugins/health").await;
    let row = health["packages"].as_array().unwrap().iter().find(|r| r["package"]["package"] == costs).unwrap();
    assert_eq!(row["verified"], true, "its tarball was checked like any other");

    // Another tenant: no such plugin anywhere.
    let (other, other_cookie) = app.signed_in_tenant().await;
    platform(&app, &other, &other_cookie, "1.46.0").await;
    let (_, theirs, _) = app.get_json(&other, &other_cookie, "/api/plugins?q=acme").await;
    assert_eq!(theirs["items"], json!([]), "{theirs}");
    let (status, _, _) = app.get_json(&other, &other_cookie, &format!("/api/plugins/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        send(&app, &other, &other_cookie, Method::POST, "/api/plugins/install", json!({"plugin": id.clone()})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bulk = json!({"operations": [{"operation": "install", "plugin": id.clone()}]});
    let (status, _) = send(&app, &other, &other_cookie, Method::POST, "/api/plugins/operations", bulk).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        send(&app, &other, &other_cookie, Method::PUT, "/api/plugins/policy", json!({"blocked": [id.clone()]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not even its existence shows");
    let (status, _) =
        send(&app, &other, &other_cookie, Method::DELETE, &format!("/api/plugins/private/{id}"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing tells another tenant whether an id or a package is someone's: each answer is the
    // one for something that does not exist.
    let probe = |plugin: &str| {
        json!({"dryRun": true, "operations": [
        {"operation": "uninstall", "plugin": "nope"}, {"operation": "install", "plugin": plugin}]})
    };
    let (s1, taken) = send(&app, &other, &other_cookie, Method::POST, "/api/plugins/operations", probe(&id)).await;
    let (s2, free) =
        send(&app, &other, &other_cookie, Method::POST, "/api/plugins/operations", probe("t0.nothing")).await;
    assert_eq!((s1, taken["error"]["message"].clone()), (s2, free["error"]["message"].clone()));
    let (status, _) =
        send(&app, &other, &other_cookie, Method::PUT, "/api/plugins/policy", json!({"support": ["supported"]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, refused) = send(
        &app,
        &other,
        &other_cookie,
        Method::POST,
        "/api/plugins/resolve",
        json!({"operation": "install", "plugin": id.clone()}),
    )
    .await;
    assert!(
        !refused.to_string().contains("Acme Costs"),
        "the policy does not judge what the tenant cannot see: {refused}"
    );
    let claim = |package: &str| json!({"name": "mine", "title": "Mine", "packages": [package]});
    let (s1, taken) = send(&app, &other, &other_cookie, Method::POST, "/api/plugins/private", claim(costs)).await;
    let (s2, free) =
        send(&app, &other, &other_cookie, Method::POST, "/api/plugins/private", claim("@acme/backstage-plugin-nope"))
            .await;
    assert_eq!(s1, StatusCode::BAD_REQUEST);
    assert_eq!(s2, StatusCode::BAD_REQUEST);
    assert_eq!(taken["error"]["message"], format!("`{costs}` is not on the registry Beacon reads."));
    assert_eq!(free["error"]["message"], "`@acme/backstage-plugin-nope` is not on the registry Beacon reads.");
    let (status, public) = send(&app, &other, &other_cookie, Method::POST, "/api/plugins/private", claim(RADAR)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(public["error"]["message"].as_str().unwrap().contains("public directory"), "{public}");
    let (_, listed, _) = app.get_json(&other, &other_cookie, "/api/plugins/private").await;
    assert_eq!(listed, json!([]), "nothing was kept");
    let (_, listed, _) = app.get_json(&other, &other_cookie, "/api/plugins/private").await;
    assert_eq!(listed, json!([]));

    for bad in [
        json!({"name": "Bad Name", "title": "X", "packages": [costs]}),
        json!({"name": "x", "title": "", "packages": [costs]}),
        json!({"name": "x", "title": "X", "packages": []}),
        json!({"name": "x", "title": "X", "packages": ["Not A Package"]}),
        json!({"name": "x", "title": "X\u{0}", "packages": [costs]}),
    ] {
        let (status, body) = send(&app, &t, &cookie, Method::POST, "/api/plugins/private", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {body}");
    }

    // Removed from the directory, it stays installed until someone uninstalls it.
    let (status, _) = send(&app, &t, &cookie, Method::DELETE, &format!("/api/plugins/private/{id}"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, found, _) = app.get_json(&t, &cookie, "/api/plugins?q=acme").await;
    assert_eq!(found["items"], json!([]));
    assert!(yaml(&app, &t, &cookie).await.0.contains(&format!("{costs}@1.2.0")));
    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(a, _, _)| a == "plugin.private_entry_changed").count(), 2);
}

/// Private plugins are read from the registry; a server that reads none says so.
#[tokio::test]
async fn a_private_plugin_needs_a_registry_to_read_it_from() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    let entry = json!({"name": "costs", "title": "Acme Costs", "packages": ["@acme/backstage-plugin-costs"]});
    let (status, body) = send(&app, &t, &cookie, Method::POST, "/api/plugins/private", entry).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("BEACON_NPM_REGISTRY"), "{body}");
}
