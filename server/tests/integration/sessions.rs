use axum::http::{header, StatusCode};
use tower_sessions_redis_store::fred::interfaces::HashesInterface;

use crate::support::TestApp;
use app::auth::model::{ActiveSession, Role};

const SESSIONS: &str = "/api/auth/sessions";
const END: &str = "/api/auth/sessions/end";
const END_ALL: &str = "/api/auth/sessions/end-all";

fn signed_out(response: &crate::support::TestResponse) -> bool {
    response.status == StatusCode::SEE_OTHER && response.headers[header::LOCATION] == "/login"
}

#[tokio::test(flavor = "multi_thread")]
async fn members_see_their_sessions_and_end_one_or_all() {
    let app = TestApp::new().await;
    let (t, laptop) = app.signed_in_tenant().await;
    let phone = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let tablet = app.login(&t.host, &t.admin_email, &t.admin_password).await;

    let listed: Vec<ActiveSession> = app.call(&t.host, SESSIONS, &[], Some(&laptop)).await.json();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1, "the viewing session is marked");
    assert!(listed.iter().all(|s| s.ip.as_deref() == Some(&app.client_ip.ip().to_string())));

    // Ending the phone's session signs the phone out on its next request.
    let phone_handle = {
        let seen_by_phone: Vec<ActiveSession> = app.call(&t.host, SESSIONS, &[], Some(&phone)).await.json();
        seen_by_phone.into_iter().find(|s| s.current).unwrap().handle
    };
    let ended = app.call(&t.host, END, &[("handle", &phone_handle)], Some(&laptop)).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert!(signed_out(&app.get(&t.host, "/", Some(&phone)).await));
    assert_eq!(app.get(&t.host, "/", Some(&laptop)).await.status, StatusCode::OK);
    let again = app.call(&t.host, END, &[("handle", &phone_handle)], Some(&laptop)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "an ended session cannot be ended twice");

    // Handles of someone else's sessions mean nothing in my registry.
    let email = format!("dev@{}.example.com", t.tenant.slug);
    let (_, developer) = app.member(&t, &laptop, &email, Role::Developer).await;
    let laptop_handle = listed.iter().find(|s| s.current).unwrap().handle.clone();
    let foreign = app.call(&t.host, END, &[("handle", &laptop_handle)], Some(&developer)).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&t.host, "/", Some(&laptop)).await.status, StatusCode::OK);

    // Sign out everywhere ends the tablet and the laptop itself.
    let all = app.call(&t.host, END_ALL, &[], Some(&laptop)).await;
    assert!(all.status.is_success() || all.status == StatusCode::FOUND, "{} {}", all.status, all.body);
    assert!(signed_out(&app.get(&t.host, "/", Some(&tablet)).await));
    assert!(signed_out(&app.get(&t.host, "/", Some(&laptop)).await));

    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.contains(&("session.revoked".into(), t.admin_email.clone(), "success".into())));
    assert!(actions.contains(&("session.revoked_all".into(), t.admin_email.clone(), "success".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn role_changes_deactivation_and_password_resets_end_the_members_sessions() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    for (i, change) in ["role", "reset", "deactivate"].into_iter().enumerate() {
        let email = format!("m{i}@{}.example.com", t.tenant.slug);
        let (id, cookie) = app.member(&t, &admin, &email, Role::Developer).await;
        assert_eq!(app.get(&t.host, "/", Some(&cookie)).await.status, StatusCode::OK);
        let (path, form): (&str, Vec<(&str, &str)>) = match change {
            "role" => ("/api/settings/users/role", vec![("user_id", &id), ("role", "viewer")]),
            "reset" => ("/api/settings/users/reset-password", vec![("user_id", &id)]),
            _ => ("/api/settings/users/deactivate", vec![("user_id", &id)]),
        };
        let response = app.call(&t.host, path, &form, Some(&admin)).await;
        assert!(response.status.is_success(), "{change}: {} {}", response.status, response.body);
        assert!(signed_out(&app.get(&t.host, "/", Some(&cookie)).await), "{change} ends the session");
        let actions = app.audit_actions(&t.tenant).await;
        assert!(actions.contains(&("session.revoked_all".into(), email.clone(), "success".into())), "{change}");
    }
    assert_eq!(app.get(&t.host, "/", Some(&admin)).await.status, StatusCode::OK, "the admin stays signed in");

    // And an admin can simply sign a member out everywhere.
    let email = format!("signout@{}.example.com", t.tenant.slug);
    let (id, cookie) = app.member(&t, &admin, &email, Role::Viewer).await;
    let ended = app.call(&t.host, "/api/settings/users/end-sessions", &[("user_id", &id)], Some(&admin)).await;
    assert!(ended.status.is_success(), "{} {}", ended.status, ended.body);
    assert!(signed_out(&app.get(&t.host, "/", Some(&cookie)).await));
    let by_viewer = app.call(&t.host, "/api/settings/users/end-sessions", &[("user_id", &id)], Some(&cookie)).await;
    assert_eq!(by_viewer.status, StatusCode::UNAUTHORIZED, "signed out already");
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.contains(&("session.revoked_all".into(), email, "success".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_ends_the_other_sessions_only() {
    let app = TestApp::new().await;
    let (t, here) = app.signed_in_tenant().await;
    let elsewhere = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let new_password = "a long and quiet harbour at dawn";
    let changed = app
        .call(
            &t.host,
            "/api/auth/password",
            &[
                ("current_password", &t.admin_password),
                ("new_password", new_password),
                ("confirm_password", new_password),
            ],
            Some(&here),
        )
        .await;
    let here = changed.session_cookie().expect("a new session id for the new password");
    assert_eq!(app.get(&t.host, "/", Some(&here)).await.status, StatusCode::OK);
    assert!(signed_out(&app.get(&t.host, "/", Some(&elsewhere)).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_after_their_absolute_lifetime_however_active() {
    let app = TestApp::new().await;
    let (t, cookie) = app.signed_in_tenant().await;
    assert_eq!(app.get(&t.host, "/", Some(&cookie)).await.status, StatusCode::OK);

    // Age the registry entry past the configured 12 hours, as if signed in yesterday.
    let key = format!("beacon:sessions:{}:{}", t.tenant.id.0, admin_id(&app, &t).await);
    let redis = app.redis();
    let entries: std::collections::HashMap<String, String> = redis.hgetall(&key).await.unwrap();
    let (handle, raw) = entries.into_iter().next().expect("one session registered");
    let mut entry: serde_json::Value = serde_json::from_str(&raw).unwrap();
    entry["signed_in_at"] = serde_json::json!((chrono::Utc::now() - chrono::Duration::hours(13)).to_rfc3339());
    let () = redis.hset(&key, (handle.as_str(), entry.to_string())).await.unwrap();

    assert!(signed_out(&app.get(&t.host, "/", Some(&cookie)).await));
}

async fn admin_id(app: &TestApp, t: &crate::support::TestTenant) -> uuid::Uuid {
    app::auth::service::find_principal(&app.db, &t.tenant, &t.admin_email).await.unwrap().unwrap().user_id
}
