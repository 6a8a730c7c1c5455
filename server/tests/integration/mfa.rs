use axum::http::{header, StatusCode};

use crate::support::{TestApp, TestTenant};
use app::auth::model::{MfaOverview, Role};
use app::auth::totp;

const LOAD: &str = "/api/auth/mfa";
const CONFIRM: &str = "/api/auth/mfa/confirm";
const VERIFY: &str = "/api/auth/mfa/verify";
const DISABLE: &str = "/api/auth/mfa/disable";
const LOGIN: &str = "/api/auth/login";

/// RFC 4648 base32 as the enrolment page shows it (grouped with spaces), back to bytes.
fn decode_base32(shown: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in shown.chars().filter(|c| !c.is_whitespace()) {
        let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(c).expect("base32 letter") as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

fn now_step() -> i64 {
    totp::step_at(chrono::Utc::now().timestamp())
}

/// Turns on TOTP for the signed-in member; returns (secret, recovery codes, step used).
async fn enrol(app: &TestApp, host: &str, cookie: &str) -> (Vec<u8>, Vec<String>, i64) {
    let overview: MfaOverview = app.call(host, LOAD, &[], Some(cookie)).await.json();
    let secret = decode_base32(&overview.enrolment.expect("a QR code to scan").secret);
    let again: MfaOverview = app.call(host, LOAD, &[], Some(cookie)).await.json();
    assert_eq!(decode_base32(&again.enrolment.unwrap().secret), secret, "reloading keeps the same secret");

    let wrong = app.call(host, CONFIRM, &[("code", "000000")], Some(cookie)).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let step = now_step();
    let confirmed = app.call(host, CONFIRM, &[("code", &totp::code_at(&secret, step))], Some(cookie)).await;
    assert!(confirmed.status.is_success(), "{} {}", confirmed.status, confirmed.body);
    let overview: MfaOverview = app.call(host, LOAD, &[], Some(cookie)).await.json();
    assert!(overview.enabled_since.is_some() && overview.enrolment.is_none());
    let codes = overview.new_recovery_codes.expect("recovery codes shown once");
    assert_eq!(codes.len(), 10);
    let later: MfaOverview = app.call(host, LOAD, &[], Some(cookie)).await.json();
    assert!(later.new_recovery_codes.is_none(), "and only once");
    assert_eq!(later.recovery_codes_left, 10);
    (secret, codes, step)
}

/// Password step: returns the cookie of the pending sign-in.
async fn password_step(app: &TestApp, t: &TestTenant) -> String {
    let response = app.call(&t.host, LOGIN, &[("email", &t.admin_email), ("password", &t.admin_password)], None).await;
    assert!(response.status.is_success(), "{} {}", response.status, response.body);
    assert_eq!(response.headers[header::LOCATION], "/login/mfa", "the code comes next");
    let cookie = response.session_cookie().expect("pending sign-in cookie");
    let home = app.get(&t.host, "/", Some(&cookie)).await;
    assert_eq!(home.headers[header::LOCATION], "/login", "a password alone does not sign in");
    cookie
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_enrolment_then_sign_in_with_a_code_once_and_recovery_codes_once() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let (secret, codes, confirm_step) = enrol(&app, &t.host, &admin).await;

    // The secret is stored sealed under the current key, bound to the account.
    let user_id =
        app::auth::service::find_principal(&app.db, &t.tenant, &t.admin_email).await.unwrap().unwrap().user_id;
    let (sealed, last_step) = app
        .db
        .with_control(move |conn| {
            Box::pin(async move { Ok::<_, app::error::AppError>(app::auth::repo::totp_secret(conn, user_id).await?) })
        })
        .await
        .unwrap()
        .expect("stored");
    assert!(!sealed.bytes.windows(secret.len()).any(|w| w == secret.as_slice()), "not in clear");
    assert_eq!(sealed.key_id, app.state.keyring.current(app::keyring::Purpose::TotpSecret).0);
    assert_eq!(last_step, Some(confirm_step), "the confirmation code is used up");

    // The code used to confirm cannot sign in (replay); the next one can, once.
    let pending = password_step(&app, &t).await;
    let replay = app.call(&t.host, VERIFY, &[("code", &totp::code_at(&secret, confirm_step))], Some(&pending)).await;
    assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", replay.body);
    let next = totp::code_at(&secret, confirm_step + 1);
    let verified = app.call(&t.host, VERIFY, &[("code", &next)], Some(&pending)).await;
    assert!(verified.status.is_success(), "{} {}", verified.status, verified.body);
    let signed_in = verified.session_cookie().expect("a new session id once signed in");
    assert_ne!(signed_in, pending);
    assert_eq!(app.get(&t.host, "/", Some(&signed_in)).await.status, StatusCode::OK);

    let pending = password_step(&app, &t).await;
    let replay = app.call(&t.host, VERIFY, &[("code", &next)], Some(&pending)).await;
    assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY, "a code works once only");

    // A recovery code signs in once, in any case and spacing.
    let recovery = codes[3].to_uppercase().replace('-', " ");
    let used = app.call(&t.host, VERIFY, &[("code", &recovery)], Some(&pending)).await;
    assert!(used.status.is_success(), "{} {}", used.status, used.body);
    let overview: MfaOverview = app.call(&t.host, LOAD, &[], used.session_cookie().as_deref()).await.json();
    assert_eq!(overview.recovery_codes_left, 9);
    let pending = password_step(&app, &t).await;
    let again = app.call(&t.host, VERIFY, &[("code", &codes[3])], Some(&pending)).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "recovery codes are single use");

    // Without a pending sign-in, a code alone gets nowhere.
    let alone = app.call(&t.host, VERIFY, &[("code", &codes[4])], None).await;
    assert_eq!(alone.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(alone.session_cookie().is_none());

    let actions = app.audit_actions(&t.tenant).await;
    for (action, outcome) in [
        ("mfa.enrol", "failure"),
        ("mfa.enrol", "success"),
        ("mfa.verify", "success"),
        ("mfa.verify", "failure"),
        ("mfa.recovery_code_used", "success"),
    ] {
        assert!(actions.contains(&(action.into(), t.admin_email.clone(), outcome.into())), "{action} {outcome}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_codes_count_towards_the_sign_in_lock() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let (secret, _, step) = enrol(&app, &t.host, &admin).await;
    let pending = password_step(&app, &t).await;
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        let wrong = app.call(&t.host, VERIFY, &[("code", "123456")], Some(&pending)).await;
        last = wrong.status;
        // Clear the growing wait, keep the count: the lock is what is tested here.
        let redis = app.redis();
        let key = format!("login:wait:acct:{}:{}", t.tenant.id.0, t.admin_email);
        let () = tower_sessions_redis_store::fred::interfaces::KeysInterface::del(&redis, key).await.unwrap();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let right = app.call(&t.host, VERIFY, &[("code", &totp::code_at(&secret, step + 1))], Some(&pending)).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "locked even with the right code");
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.iter().any(|(a, _, _)| a == "auth.locked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_policy_makes_members_enrol_before_anything_else() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("dev@{}.example.com", t.tenant.slug);
    let (_, developer) = app.member(&t, &admin, &email, Role::Developer).await;

    let by_developer =
        app.call(&t.host, "/api/settings/security/mfa-policy", &[("policy", "all")], Some(&developer)).await;
    assert_eq!(by_developer.status, StatusCode::FORBIDDEN);
    let bad = app.call(&t.host, "/api/settings/security/mfa-policy", &[("policy", "sometimes")], Some(&admin)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let set = app.call(&t.host, "/api/settings/security/mfa-policy", &[("policy", "all")], Some(&admin)).await;
    assert!(set.status.is_success(), "{} {}", set.status, set.body);

    // Pages lead to enrolment; other functions are refused until then.
    let home = app.get(&t.host, "/catalog", Some(&developer)).await;
    assert_eq!(home.headers[header::LOCATION], "/account/mfa");
    assert_eq!(app.get(&t.host, "/account/mfa", Some(&developer)).await.status, StatusCode::OK);
    let list = app.call(&t.host, "/api/ui/catalog/list", &[], Some(&developer)).await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
    assert!(list.body.contains("two-factor"), "{}", list.body);

    let (secret, _, step) = enrol(&app, &t.host, &developer).await;
    assert_eq!(app.get(&t.host, "/catalog", Some(&developer)).await.status, StatusCode::OK);

    // Required means it cannot be turned off.
    let off = app.call(&t.host, DISABLE, &[("code", &totp::code_at(&secret, step + 1))], Some(&developer)).await;
    assert_eq!(off.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(off.body.contains("requires"), "{}", off.body);

    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.contains(&("tenant.mfa_policy_changed".into(), t.tenant.slug.to_string(), "success".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_resets_the_second_factor_of_a_member_who_lost_it() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("lost@{}.example.com", t.tenant.slug);
    let (id, developer) = app.member(&t, &admin, &email, Role::Developer).await;
    enrol(&app, &t.host, &developer).await;

    // A password reset does not get around the second factor (ASVS 6.4.3).
    let reset: app::settings::api::UsersView = {
        let done = app.call(&t.host, "/api/settings/users/reset-password", &[("user_id", &id)], Some(&admin)).await;
        assert!(done.status.is_success(), "{} {}", done.status, done.body);
        app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json()
    };
    let one_time = reset.reset.and_then(|r| r.one_time_password).expect("a one-time password");
    let signed = app.call(&t.host, LOGIN, &[("email", &email), ("password", &one_time)], None).await;
    assert_eq!(signed.headers[header::LOCATION], "/login/mfa", "the code is still asked for");
    let developer = {
        let pending = signed.session_cookie().unwrap();
        assert_eq!(app.get(&t.host, "/", Some(&pending)).await.headers[header::LOCATION], "/login");
        pending
    };

    let by_member = app.call(&t.host, "/api/settings/users/reset-mfa", &[("user_id", &id)], Some(&developer)).await;
    assert_eq!(by_member.status, StatusCode::UNAUTHORIZED, "half signed in is not signed in");
    let reset = app.call(&t.host, "/api/settings/users/reset-mfa", &[("user_id", &id)], Some(&admin)).await;
    assert!(reset.status.is_success(), "{} {}", reset.status, reset.body);
    // Without a second factor, the one-time password signs in and must be changed first.
    let signed_in = app.login(&t.host, &email, &one_time).await;
    assert_eq!(app.get(&t.host, "/", Some(&signed_in)).await.headers[header::LOCATION], "/account/password");
    let again = app.call(&t.host, "/api/settings/users/reset-mfa", &[("user_id", &id)], Some(&admin)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing left to reset");

    let view: app::settings::api::UsersView =
        app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    assert!(!view.members.iter().find(|m| m.email == email).unwrap().mfa_enabled);
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.contains(&("mfa.reset".into(), email, "success".into())));
}
