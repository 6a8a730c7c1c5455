use axum::http::{header, StatusCode};

use crate::support::TestApp;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;

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
    let (t, cookie) = app.signed_in_tenant().await;
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
    let location = failed.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.contains("__err="));

    // The form shows the error in the browser it was given to, once.
    let browser = failed.session_cookie().expect("the error is kept in this browser's session");
    let back = location.strip_prefix(&format!("http://{}", t.host)).expect("back to the form");
    let shown = app.get(&t.host, back, Some(&browser)).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains(r#"role="alert""#) && shown.body.contains("Invalid email or password."));
    let reloaded = app.get(&t.host, back, Some(&browser)).await;
    assert_eq!(reloaded.status, StatusCode::SEE_OTHER);
    assert_eq!(reloaded.headers[header::LOCATION], "/login");
}

/// Content spoofing: a link carrying a made-up form error (leptos' no-JavaScript error redirect
/// format) must not make a trusted page show its text.
#[tokio::test(flavor = "multi_thread")]
async fn a_form_error_in_a_link_is_not_shown() {
    use base64::engine::general_purpose::URL_SAFE;
    use base64::Engine;

    let app = TestApp::new().await;
    let t = app.tenant().await;
    let spoof = "Your account is locked. Call +1 555 0100 to unlock it.";
    let forged = URL_SAFE.encode(serde_json::to_string(&app::error::AppError::Invalid(spoof.into())).unwrap());
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let pages = [("/login", "auth/login", None), ("/settings/sso", "settings/sso/add", Some(admin.as_str()))];
    for (page, function, cookie) in pages {
        let link = format!("{page}?__path=%2Fapi%2F{}&__err={forged}", function.replace('/', "%2F"));
        let opened = app.get(&t.host, &link, cookie).await;
        assert!(!opened.body.contains("Call +1 555"), "{page} shows the forged error: {}", opened.body);
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{page}: {}", opened.body);
        assert_eq!(opened.headers[header::LOCATION], page, "the same page without the error");
    }
}

fn count(audit: &[(String, String, String)], action: &str, outcome: &str) -> usize {
    audit.iter().filter(|(a, _, o)| a == action && o == outcome).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_slow_down_then_lock_even_the_right_password() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let redis = app.redis();
    let attempt = |password: &'static str| {
        let (app, t) = (&app, &t);
        async move { app.call(&t.host, "/api/auth/login", &[("email", &t.admin_email), ("password", password)], None).await }
    };
    let wrong = attempt("wrong password!").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    attempt("wrong password!").await;
    attempt("wrong password!").await;
    // From the third failure on, the next attempt must wait (1 s, 2 s, 4 s …).
    let throttled = attempt("wrong password!").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "{}", throttled.body);
    assert!(throttled.body.contains("Try again in"), "{}", throttled.body);

    // Skip the waits (their length is covered above) and fail until the 10th failure.
    for _ in 3..10 {
        let _: () = redis.del(format!("login:wait:acct:{}:{}", t.tenant.id.0, t.admin_email)).await.unwrap();
        let failed = attempt("wrong password!").await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{}", failed.body);
    }
    // Locked: the right password is refused too, with the same answer for unknown accounts.
    let locked =
        app.call(&t.host, "/api/auth/login", &[("email", &t.admin_email), ("password", &t.admin_password)], None).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.body.contains("locked for 15 minutes"), "{}", locked.body);

    let audit = app.audit_actions(&t.tenant).await;
    assert_eq!(count(&audit, "auth.locked", "failure"), 1);
    assert_eq!(count(&audit, "auth.login", "failure"), 12, "10 failures, 1 throttled, 1 locked: {audit:?}");
    assert_eq!(count(&audit, "auth.login", "success"), 0);

    // When the lock ends, the right password works and clears the count.
    let _: () = redis.del(format!("login:lock:acct:{}:{}", t.tenant.id.0, t.admin_email)).await.unwrap();
    app.login(&t.host, &t.admin_email, &t.admin_password).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn members_change_their_password_under_the_policy_and_resets_force_a_change() {
    use app::auth::model::Role;
    use app::settings::api::UsersView;

    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let change = |cookie: String, current: String, new: &'static str, confirm: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            app.call(
                &t.host,
                "/api/auth/password",
                &[("current_password", &current), ("new_password", new), ("confirm_password", confirm)],
                Some(&cookie),
            )
            .await
        }
    };
    for (new, confirm, message) in [
        ("short", "short", "at least 12"),
        ("Password123456!", "Password123456!", "too common"),
        ("a long new passphrase", "a different one entirely", "do not match"),
    ] {
        let refused = change(admin.clone(), t.admin_password.clone(), new, confirm).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains(message), "{message}: {}", refused.body);
    }
    let wrong_current =
        change(admin.clone(), "not my password".into(), "a long new passphrase", "a long new passphrase").await;
    assert!(wrong_current.body.contains("current password is not correct"), "{}", wrong_current.body);
    let changed =
        change(admin.clone(), t.admin_password.clone(), "a long new passphrase", "a long new passphrase").await;
    assert!(changed.status.is_success(), "{}", changed.body);
    // The change gave the session a new id; sign in again with the new password.
    let admin = app.login(&t.host, &t.admin_email, "a long new passphrase").await;

    // An admin reset hands out a one-time password and confines the member to the
    // change-password page until they pick a new one.
    let email = format!("rey@{}.example.com", t.tenant.slug);
    let (user_id, _) = app.member(&t, &admin, &email, Role::Developer).await;
    let reset = app.call(&t.host, "/api/settings/users/reset-password", &[("user_id", &user_id)], Some(&admin)).await;
    assert!(reset.status.is_success(), "{}", reset.body);
    let view: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    let one_time = view.reset.expect("shown once").one_time_password.unwrap();
    let member = app.login(&t.host, &email, &one_time).await;
    let page = app.get(&t.host, "/catalog", Some(&member)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/account/password");
    let api = app.get(&t.host, "/api/catalog/entities", Some(&member)).await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&t.host, "/account/password", Some(&member)).await.status, StatusCode::OK);
    let changed = change(member.clone(), one_time, "rey's own passphrase", "rey's own passphrase").await;
    assert!(changed.status.is_success(), "{}", changed.body);
    let member = app.login(&t.host, &email, "rey's own passphrase").await;
    assert_eq!(app.get(&t.host, "/catalog", Some(&member)).await.status, StatusCode::OK);

    // Admins cannot reset an account that other tenants share.
    let other = app.tenant().await;
    let other_admin = app.login(&other.host, &other.admin_email, &other.admin_password).await;
    let invited = app
        .call(
            &other.host,
            "/api/settings/users/invite",
            &[("email", &email), ("display_name", "Rey"), ("role", "viewer")],
            Some(&other_admin),
        )
        .await;
    assert!(invited.status.is_success());
    let shared = app.call(&t.host, "/api/settings/users/reset-password", &[("user_id", &user_id)], Some(&admin)).await;
    assert_eq!(shared.status, StatusCode::CONFLICT, "{}", shared.body);

    let audit = app.audit_actions(&t.tenant).await;
    assert_eq!(count(&audit, "auth.password_change", "success"), 2);
    assert_eq!(count(&audit, "auth.password_change", "failure"), 1);
    assert_eq!(count(&audit, "user.password_reset", "success"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn over_https_the_session_cookie_is_host_prefixed_secure_and_http_only() {
    let app = TestApp::init().secure_cookies().start().await;
    let t = app.tenant().await;
    let response =
        app.call(&t.host, "/api/auth/login", &[("email", &t.admin_email), ("password", &t.admin_password)], None).await;
    assert!(response.status.is_success(), "{}", response.body);
    let cookie = response.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-beacon_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    // The prefixed cookie is the session.
    let session = cookie.split(';').next().unwrap();
    assert_eq!(app.get(&t.host, "/catalog", Some(session)).await.status, StatusCode::OK);
}
