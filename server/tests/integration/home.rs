//! The home page: a member's teams, what they own and their unread notifications, from the
//! catalog's User with the member's email.

use axum::http::StatusCode;

use crate::support::TestApp;
use app::audit::service::AuditSource;
use app::auth::model::Role;
use app::catalog::service::{save_one, SaveTarget};
use app::home::model::HomeView;

#[tokio::test]
async fn the_home_page_shows_the_members_teams_and_what_they_own() {
    let (app, t, admin) = TestApp::with_examples().await;
    let email = format!("amelia@{}.example.com", t.tenant.slug.as_str());
    // Backstage's example catalog has Team B; this member is in it by their email.
    let user = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: amelia\nspec:\n  profile:\n    email: {email}\n  memberOf: [team-b]\n"
    );
    save_one(&app.db, &t.tenant, &AuditSource::command_line(), SaveTarget::New, &user).await.unwrap();
    let (_, amelia) = app.member(&t, &admin, &email, Role::Developer).await;

    let home: HomeView = app.call(&t.host, "/api/home", &[], Some(&amelia)).await.json();
    assert_eq!(home.catalog_user.as_deref(), Some("user:default/amelia"));
    assert_eq!(home.teams.iter().map(|t| t.entity_ref.as_str()).collect::<Vec<_>>(), ["group:default/team-b"]);
    let owned: Vec<&str> = home.owned.iter().map(|e| e.entity_ref.as_str()).collect();
    for expected in ["component:default/podcast-api", "component:default/queue-proxy", "system:default/podcast"] {
        assert!(owned.contains(&expected), "{expected} in {owned:?}");
    }
    assert_eq!(home.owned_total, home.owned.len() as i64);
    assert!(home.owned.iter().all(|e| e.owner_ref.as_deref() == Some("group:default/team-b")));
    assert!(home.owned.windows(2).all(|w| w[0].updated_at >= w[1].updated_at), "most recently changed first");

    // The page itself, server-rendered (what a browser without JavaScript shows).
    let page = app.get(&t.host, "/", Some(&amelia)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("What your teams own") && page.body.contains("podcast-api"), "{}", page.body);
    assert!(page.body.contains(r#"href="/catalog/default/component/podcast-api""#));

    // The admin has no User entity: the page says how to get one.
    let home: HomeView = app.call(&t.host, "/api/home", &[], Some(&admin)).await.json();
    assert_eq!((home.catalog_user, home.teams.len(), home.owned_total), (None, 0, 0));
    assert!(app.get(&t.host, "/", Some(&admin)).await.body.contains("home-not-in-catalog"));
}
