//! Notifications through the portal's server functions: the security rules tell the member
//! concerned or the other admins, the bell counts, reads and choices are kept and audited.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::support::{TestApp, TestTenant};
use app::audit::service::AuditSource;
use app::auth::model::{PortalContext, Role};
use app::catalog::service::{save_one, SaveTarget};
use app::notifications::model::NotificationsPage;

async fn notifications(app: &TestApp, t: &TestTenant, cookie: &str) -> NotificationsPage {
    app.call(&t.host, "/api/notifications", &[], Some(cookie)).await.json()
}

#[tokio::test]
async fn a_change_to_a_members_account_tells_them_and_the_bell_counts_it() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("dev@{}.example.com", t.tenant.slug.as_str());
    let (dev_id, password) = app.invite(&t, &admin, &email, Role::Developer).await;
    let dev = app.login(&t.host, &email, &password).await;
    assert_eq!(notifications(&app, &t, &dev).await.unread, 0);

    let changed = app
        .call(&t.host, "/api/settings/users/role", &[("user_id", &dev_id), ("role", "maintainer")], Some(&admin))
        .await;
    assert!(changed.status.is_success(), "{} {}", changed.status, changed.body);
    // A new role ends the member's sessions; they learn why when they sign in again (only
    // that: the sessions ended with it are not a second notification).
    let dev = app.login(&t.host, &email, &password).await;

    let page = notifications(&app, &t, &dev).await;
    assert_eq!(page.unread, 1);
    assert_eq!(page.items[0].title, "Your role changed");
    assert!(page.items[0].body.contains("You are now maintainer"), "{}", page.items[0].body);
    let context: PortalContext = app.call(&t.host, "/api/portal/context", &[], Some(&dev)).await.json();
    assert_eq!(context.unread_notifications, 1, "the bell counts it");
    let latest: i64 = app
        .db
        .with_tenant(&t.tenant, |conn| Box::pin(async move { app::events::repo::last_id(conn).await }))
        .await
        .unwrap();
    assert!(context.live_after > 0 && context.live_after <= latest, "the page's socket starts after the render");
    assert_eq!(notifications(&app, &t, &admin).await.unread, 0, "the admin who acted is not told");

    let id = page.items[0].id.to_string();
    let read = app.call(&t.host, "/api/notifications/read", &[("id", &id)], Some(&dev)).await;
    assert!(read.status.is_success(), "{}", read.body);
    let page = notifications(&app, &t, &dev).await;
    assert_eq!((page.unread, page.items[0].read), (0, true));
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.iter().any(|(action, ..)| action == "notification.read"));

    // Someone else's notification cannot be marked through its id.
    let foreign = app.call(&t.host, "/api/notifications/read", &[("id", &id)], Some(&admin)).await;
    assert!(foreign.status.is_success());
    assert!(notifications(&app, &t, &admin).await.items.is_empty());
}

#[tokio::test]
async fn a_security_change_tells_the_other_admins_unless_they_turned_it_off() {
    let app = TestApp::new().await;
    let (t, first) = app.signed_in_tenant().await;
    let email = format!("second-admin@{}.example.com", t.tenant.slug.as_str());
    let (_, second) = app.member(&t, &first, &email, Role::Admin).await;

    let allowed =
        app.call(&t.host, "/api/ui/catalog/allow-host", &[("pattern", "git.example.com")], Some(&first)).await;
    assert!(allowed.status.is_success(), "{}", allowed.body);
    let told = notifications(&app, &t, &second).await;
    assert_eq!(told.unread, 1);
    assert_eq!(told.items[0].title, "A host was added to the Locations fetch allowlist");
    assert!(told.items[0].body.contains("git.example.com"));
    assert!(told.items[0].link.as_deref().is_some_and(|l| l.starts_with("/audit/")));
    assert_eq!(notifications(&app, &t, &first).await.unread, 0, "not the admin who did it");

    let off = [("kind", "tenant_security"), ("channel", "off")];
    assert!(app.call(&t.host, "/api/notifications/preference", &off, Some(&second)).await.status.is_success());
    let removed =
        app.call(&t.host, "/api/ui/catalog/remove-host", &[("pattern", "git.example.com")], Some(&first)).await;
    assert!(removed.status.is_success(), "{}", removed.body);
    assert_eq!(notifications(&app, &t, &second).await.unread, 1, "turned off: nothing new");

    // One's own account's security cannot be silenced.
    let refused = [("kind", "account_security"), ("channel", "off")];
    let response = app.call(&t.host, "/api/notifications/preference", &refused, Some(&second)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", response.body);
    let page = notifications(&app, &t, &second).await;
    let security = page.preferences.iter().find(|p| p.kind.as_str() == "tenant_security").unwrap();
    assert_eq!(security.channel.as_str(), "off");
}

/// Signs in with a browser's user agent; returns the session cookie.
async fn sign_in_with(app: &TestApp, t: &TestTenant, agent: &str) -> String {
    let body = format!(
        "email={}&password={}",
        app::escape::percent(&t.admin_email, b""),
        app::escape::percent(&t.admin_password, b"")
    );
    let request = Request::post("/api/auth/login")
        .header(header::HOST, &t.host)
        .header(header::USER_AGENT, agent)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app.send(request).await;
    assert!(response.status.is_success(), "{} {}", response.status, response.body);
    response.session_cookie().unwrap()
}

#[tokio::test]
async fn a_sign_in_from_a_new_browser_is_reported() {
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CHROME: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
    let app = TestApp::new().await;
    let t = app.tenant().await;
    sign_in_with(&app, &t, FIREFOX).await;
    let cookie = sign_in_with(&app, &t, FIREFOX).await;
    assert_eq!(notifications(&app, &t, &cookie).await.unread, 0, "the first browser, and the same one again");

    let cookie = sign_in_with(&app, &t, CHROME).await;
    let page = notifications(&app, &t, &cookie).await;
    assert_eq!(page.unread, 1);
    assert_eq!(page.items[0].title, "New sign-in from another browser");
    assert!(page.items[0].body.starts_with("Chrome on Windows"), "{}", page.items[0].body);
    assert_eq!(page.items[0].link.as_deref(), Some("/account/sessions"));

    let all = app.call(&t.host, "/api/notifications/read-all", &[], Some(&cookie)).await;
    assert!(all.status.is_success());
    assert_eq!(notifications(&app, &t, &cookie).await.unread, 0);
}

/// A team's members hear when an entity becomes their team's, and when someone else changes
/// or deletes it; never of their own writes.
#[tokio::test]
async fn a_teams_members_are_told_of_entities_given_to_them_and_changed_by_others() {
    let (app, t, admin) = TestApp::with_examples().await;
    let email = format!("owner@{}.example.com", t.tenant.slug.as_str());
    let user = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: owner\nspec:\n  profile:\n    email: {email}\n  memberOf: [team-b]\n"
    );
    save_one(&app.db, &t.tenant, &AuditSource::command_line(), SaveTarget::New, &user).await.unwrap();
    let (_, member) = app.member(&t, &admin, &email, Role::Developer).await;
    let component = |description: &str, owner: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\n  description: {description}\nspec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
        )
    };
    let save = |cookie: &str, original: &str, yaml: String| {
        let (cookie, original) = (cookie.to_owned(), original.to_owned());
        let app = &app;
        let host = t.host.clone();
        async move {
            let saved = app
                .call(&host, "/api/ui/catalog/save", &[("original", &original), ("yaml", &yaml)], Some(&cookie))
                .await;
            assert!(saved.status.is_success() || saved.status.is_redirection(), "{} {}", saved.status, saved.body);
        }
    };
    let titles = |page: NotificationsPage| page.items.into_iter().map(|n| n.title).collect::<Vec<_>>();

    save(&admin, "", component("v1", "team-a")).await;
    assert!(notifications(&app, &t, &member).await.items.is_empty(), "team-a's, not theirs");
    save(&admin, "component:default/checkout", component("v1", "team-b")).await;
    save(&admin, "component:default/checkout", component("v2", "team-b")).await;
    save(&admin, "component:default/checkout", component("v2", "team-b")).await;
    save(&member, "component:default/checkout", component("v3", "team-b")).await;
    let page = notifications(&app, &t, &member).await;
    assert_eq!(
        titles(page.clone()),
        ["component:default/checkout was changed", "component:default/checkout is now owned by group:default/team-b"],
        "the unchanged save and their own are not told"
    );
    assert_eq!(page.items[1].link.as_deref(), Some("/catalog/default/component/checkout"));

    let found: serde_json::Value =
        app.get_json(&t, &admin, "/api/catalog/entities/by-name/component/default/checkout").await.1;
    let uid = found["metadata"]["uid"].as_str().unwrap().to_owned();
    let deleted = app.call(&t.host, "/api/ui/catalog/delete", &[("uid", &uid), ("confirm", "yes")], Some(&admin)).await;
    assert!(deleted.status.is_success() || deleted.status.is_redirection(), "{}", deleted.body);
    assert_eq!(titles(notifications(&app, &t, &member).await)[0], "component:default/checkout was deleted");
}
