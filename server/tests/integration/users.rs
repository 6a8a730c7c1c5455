use axum::http::StatusCode;

use crate::support::TestApp;
use app::auth::model::{MemberStatus, Role};
use app::settings::api::UsersView;

const LIST: &str = "/api/settings/users/list";
const INVITE: &str = "/api/settings/users/invite";
const ROLE: &str = "/api/settings/users/role";
const DEACTIVATE: &str = "/api/settings/users/deactivate";

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_users_and_every_change_is_audited() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("val@{}.example.com", t.tenant.slug);
    let (viewer_id, viewer) = app.member(&t, &admin, &email, Role::Viewer).await;

    // The one-time password is shown once only.
    let view: UsersView = app.call(&t.host, LIST, &[], Some(&admin)).await.json();
    assert!(view.invitation.is_none());
    assert_eq!(view.members.len(), 2);

    let changed = app.call(&t.host, ROLE, &[("user_id", &viewer_id), ("role", "developer")], Some(&admin)).await;
    assert!(changed.status.is_success(), "{}", changed.body);
    let view: UsersView = app.call(&t.host, LIST, &[], Some(&admin)).await.json();
    assert_eq!(view.members.iter().find(|m| m.email == email).unwrap().role, Role::Developer);

    let deactivated = app.call(&t.host, DEACTIVATE, &[("user_id", &viewer_id)], Some(&admin)).await;
    assert!(deactivated.status.is_success());
    let view: UsersView = app.call(&t.host, LIST, &[], Some(&admin)).await.json();
    assert_eq!(view.members.iter().find(|m| m.email == email).unwrap().status, MemberStatus::Deactivated);
    // A deactivated member's session stops working at once.
    assert_eq!(app.get(&t.host, "/", Some(&viewer)).await.status, StatusCode::SEE_OTHER);

    let actions: Vec<String> = app.audit_actions(&t.tenant).await.into_iter().map(|(a, _, _)| a).collect();
    for expected in ["user.invited", "user.role_changed", "user.deactivated"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_reach_the_users_page_and_its_functions() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let page = app.get(&t.host, "/settings/users", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&t.admin_email));

    for role in [Role::Viewer, Role::Developer, Role::Maintainer] {
        let email = format!("{}@{}.example.com", role.as_str(), t.tenant.slug);
        let (admin_id, cookie) = app.member(&t, &admin, &email, role).await;
        let page = app.get(&t.host, "/settings/users", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?} {}", page.body);
        assert!(page.body.contains("Admins only"));
        assert!(!page.body.contains(&t.admin_email), "no user data for {role:?}");
        for (path, form) in [
            (LIST, vec![]),
            (INVITE, vec![("email", "x@example.com"), ("display_name", "X"), ("role", "admin")]),
            (ROLE, vec![("user_id", admin_id.as_str()), ("role", "admin")]),
            (DEACTIVATE, vec![("user_id", admin_id.as_str())]),
        ] {
            let response = app.call(&t.host, path, &form, Some(&cookie)).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{role:?} {path}");
        }
    }
    for path in [LIST, INVITE, ROLE, DEACTIVATE] {
        assert_eq!(app.call(&t.host, path, &[], None).await.status, StatusCode::UNAUTHORIZED, "anonymous {path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_a_clear_message_and_nothing_written() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let bad_email = app
        .call(&t.host, INVITE, &[("email", "not an email"), ("display_name", "X"), ("role", "viewer")], Some(&admin))
        .await;
    assert_eq!(bad_email.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_email.body.contains("not an email address"));
    let bad_role = app
        .call(&t.host, INVITE, &[("email", "x@example.com"), ("display_name", "X"), ("role", "root")], Some(&admin))
        .await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    let twice = app
        .call(
            &t.host,
            INVITE,
            &[("email", &t.admin_email), ("display_name", "Again"), ("role", "viewer")],
            Some(&admin),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let view: UsersView = app.call(&t.host, LIST, &[], Some(&admin)).await.json();
    assert_eq!(view.members.len(), 1);

    // The last admin can neither demote nor deactivate themselves.
    let me = view.me.to_string();
    let demote = app.call(&t.host, ROLE, &[("user_id", &me), ("role", "viewer")], Some(&admin)).await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    let unknown =
        app.call(&t.host, DEACTIVATE, &[("user_id", "00000000-0000-0000-0000-000000000000")], Some(&admin)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_function_calls_with_missing_fields_are_the_callers_mistake() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let missing = app.call(&t.host, INVITE, &[("email", "someone@example.com")], Some(&admin)).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.body);
    assert!(missing.body.contains("missing or malformed"), "{}", missing.body);
    let malformed = app.call(&t.host, ROLE, &[("user_id", "not-a-uuid"), ("role", "viewer")], Some(&admin)).await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", malformed.body);
}
