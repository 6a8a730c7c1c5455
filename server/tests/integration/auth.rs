use axum::http::{header, StatusCode};

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_opens_the_portal_and_cycles_the_session_id() {
    let app = TestApp::new().await;
    let t = app.tenant().await;

    let anonymous = app.get(&t.host, "/", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers[header::LOCATION], "/login");

    let cookie = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let home = app.get(&t.host, "/", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains(&t.tenant.name), "the shell names the tenant");

    // A second login from the same browser gets a new session id (no fixation).
    let again = app
        .call(&t.host, "/api/auth/login", &[("email", &t.admin_email), ("password", &t.admin_password)], Some(&cookie))
        .await;
    let renewed = again.session_cookie().expect("new cookie");
    assert_ne!(renewed, cookie);
    assert_eq!(app.get(&t.host, "/", Some(&cookie)).await.status, StatusCode::SEE_OTHER, "old id is dead");

    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.contains(&("auth.login".into(), t.admin_email.clone(), "success".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_refused_alike_and_audited() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let wrong_password =
        app.call(&t.host, "/api/auth/login", &[("email", &t.admin_email), ("password", "nope")], None).await;
    let unknown_user =
        app.call(&t.host, "/api/auth/login", &[("email", "ghost@example.com"), ("password", "nope")], None).await;
    for response in [&wrong_password, &unknown_user] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert!(response.body.contains("InvalidCredentials"), "{}", response.body);
        assert!(response.session_cookie().is_none());
    }
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.contains(&("auth.login".into(), t.admin_email.clone(), "failure".into())));
    assert!(actions.contains(&("auth.login".into(), "ghost@example.com".into(), "failure".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_and_sessions_of_one_tenant_do_not_work_on_another() {
    let app = TestApp::new().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let on_b =
        app.call(&b.host, "/api/auth/login", &[("email", &a.admin_email), ("password", &a.admin_password)], None).await;
    assert_eq!(on_b.status, StatusCode::UNAUTHORIZED);

    let cookie = app.login(&a.host, &a.admin_email, &a.admin_password).await;
    assert_eq!(app.get(&b.host, "/", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
    let users = app.call(&b.host, "/api/settings/users/list", &[], Some(&cookie)).await;
    assert_eq!(users.status, StatusCode::UNAUTHORIZED);
    assert!(!users.body.contains(&a.admin_email));
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_ends_the_session() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let cookie = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let out = app.call(&t.host, "/api/auth/logout", &[], Some(&cookie)).await;
    assert!(out.status.is_success(), "{}", out.status);
    assert_eq!(app.get(&t.host, "/", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
    assert!(app.audit_actions(&t.tenant).await.iter().any(|(a, _, _)| a == "auth.logout"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_post_without_javascript_redirects_instead_of_showing_json() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let body = format!("email={}&password={}", t.admin_email.replace('@', "%40"), t.admin_password);
    let request = axum::http::Request::post("/api/auth/login")
        .header(header::HOST, &t.host)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, format!("http://{}/login", t.host))
        .body(axum::body::Body::from(body))
        .unwrap();
    let ok = app.send(request).await;
    assert_eq!(ok.status, StatusCode::FOUND);
    assert_eq!(ok.headers[header::LOCATION], "/");

    let request = axum::http::Request::post("/api/auth/login")
        .header(header::HOST, &t.host)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, format!("http://{}/login", t.host))
        .body(axum::body::Body::from("email=a%40b.example.com&password=wrong"))
        .unwrap();
    let failed = app.send(request).await;
    assert_eq!(failed.status, StatusCode::FOUND, "errors go back to the form, not to a bare 401");
    assert!(failed.headers[header::LOCATION].to_str().unwrap().contains("__err="));
}
