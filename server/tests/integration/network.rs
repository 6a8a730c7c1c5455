use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::support::{TestApp, TestResponse};
use app::auth::model::Role;
use app::settings::security_api::SecurityView;

const ADD: &str = "/api/settings/security/allowlist/add";
const REMOVE: &str = "/api/settings/security/allowlist/remove";
const LOAD: &str = "/api/settings/security";

/// A request as it reaches us through the load balancer (a trusted 127.x proxy) on behalf of
/// `client`, or straight from `peer` when given.
async fn send_as(
    app: &TestApp,
    host: &str,
    (peer, client): (Option<&str>, &str),
    path: &str,
    form: Option<&[(&str, &str)]>,
    cookie: Option<&str>,
    bearer: Option<&str>,
) -> TestResponse {
    let body = form
        .map(|form| form.iter().map(|(k, v)| format!("{k}={}", v.replace('/', "%2F"))).collect::<Vec<_>>().join("&"));
    let mut request = Request::builder()
        .method(if body.is_some() { "POST" } else { "GET" })
        .uri(path)
        .header(header::HOST, host)
        .header(header::ACCEPT, "application/json")
        .header("x-forwarded-for", client)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    if let Some(bearer) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {bearer}"));
    }
    let mut request = request.body(Body::from(body.unwrap_or_default())).unwrap();
    if let Some(peer) = peer {
        let addr = std::net::SocketAddr::new(peer.parse().unwrap(), 50_000);
        request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    }
    app.send(request).await
}

#[tokio::test(flavor = "multi_thread")]
async fn allowlists_admit_listed_networks_only_before_any_credential_is_checked() {
    let app = TestApp::new().await;
    let t = app.tenant().await;
    let office = "203.0.113.10";
    let admin = app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let as_office = |path: &'static str, form: Option<&'static [(&'static str, &'static str)]>| {
        send_as(&app, &t.host, (None, office), path, form, Some(&admin), None)
    };

    let view: SecurityView = as_office(LOAD, Some(&[])).await.json();
    assert_eq!(view.your_address.as_deref(), Some(office), "the forwarded address, from a trusted proxy");

    // From the office, listing the office network for the portal and the API is fine.
    let added = as_office(ADD, Some(&[("cidr", "203.0.113.0/24"), ("applies_to", "both"), ("note", "HQ")])).await;
    assert!(added.status.is_success(), "{} {}", added.status, added.body);
    let view: SecurityView = as_office(LOAD, Some(&[])).await.json();
    assert_eq!(view.allowlist.len(), 1);
    assert_eq!(app.get(&t.host, "/", None).await.status, StatusCode::FORBIDDEN, "the loopback test client is out");
    assert_eq!(as_office("/", None).await.status, StatusCode::OK);

    // Elsewhere: the portal page is refused, and so is the API before the key is even read.
    let cafe = send_as(&app, &t.host, (None, "198.51.100.23"), "/", None, Some(&admin), None).await;
    assert_eq!(cafe.status, StatusCode::FORBIDDEN);
    assert!(cafe.body.contains("approved networks"));
    let key =
        send_as(&app, &t.host, (None, "198.51.100.23"), "/api/catalog/entities", None, None, Some("bcn_bogus")).await;
    assert_eq!(key.status, StatusCode::FORBIDDEN, "403, not 401: nothing is learnt about the key");
    let again = send_as(&app, &t.host, (None, "198.51.100.23"), "/", None, Some(&admin), None).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);

    // X-Forwarded-For from an untrusted peer is the client's own claim and is ignored.
    let forged = send_as(&app, &t.host, (Some("198.51.100.99"), office), "/", None, Some(&admin), None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // An edit that would shut out the admin's own address needs the explicit confirmation.
    let lockout = as_office(ADD, Some(&[("cidr", "192.0.2.0/24"), ("applies_to", "portal")])).await;
    assert!(lockout.status.is_success(), "adding a second network keeps the office in");
    let removing_office = as_office(REMOVE, Some(&[("cidr", "203.0.113.0/24"), ("applies_to", "both")])).await;
    assert_eq!(removing_office.status, StatusCode::CONFLICT, "{}", removing_office.body);
    assert!(removing_office.body.contains(office));
    let view: SecurityView = as_office(LOAD, Some(&[])).await.json();
    assert_eq!(view.allowlist.len(), 2, "nothing changed");
    let confirmed =
        as_office(REMOVE, Some(&[("cidr", "203.0.113.0/24"), ("applies_to", "both"), ("lock_me_out", "true")])).await;
    assert!(confirmed.status.is_success(), "{} {}", confirmed.status, confirmed.body);
    assert_eq!(as_office("/", None).await.status, StatusCode::FORBIDDEN, "locked out, as confirmed");

    // The operator's way back in.
    assert_eq!(app::tenancy::service::clear_allowlist(&app.db, &t.tenant.slug).await.unwrap(), 1);
    assert_eq!(app.get(&t.host, "/", Some(&admin)).await.status, StatusCode::OK);

    let actions = app.audit_actions(&t.tenant).await;
    let refusals = actions.iter().filter(|(a, _, _)| a == "allowlist.refused").count();
    // Office (after lock-out), café portal, café API, loopback client, forged peer: the
    // café's second portal attempt within the minute is not logged again.
    assert_eq!(refusals, 5, "{actions:?}");
    for action in ["allowlist.added", "allowlist.removed", "allowlist.cleared"] {
        assert!(actions.iter().any(|(a, _, o)| a == action && o == "success"), "{action}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_edit_the_allowlist_and_bad_networks_are_refused() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let email = format!("m@{}.example.com", t.tenant.slug);
    let (_, maintainer) = app.member(&t, &admin, &email, Role::Maintainer).await;

    let form = [("cidr", "10.0.0.0/8"), ("applies_to", "api")];
    assert_eq!(app.call(&t.host, ADD, &form, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(&t.host, ADD, &form, Some(&maintainer)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call(&t.host, LOAD, &[], Some(&maintainer)).await.status, StatusCode::FORBIDDEN);
    for bad in [[("cidr", "10.0.0.0/33"), ("applies_to", "api")], [("cidr", "10.0.0.0/8"), ("applies_to", "ftp")]] {
        assert_eq!(app.call(&t.host, ADD, &bad, Some(&admin)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let other = app.tenant().await;
    let other_admin = app.login(&other.host, &other.admin_email, &other.admin_password).await;
    assert_eq!(app.call(&t.host, ADD, &form, Some(&other_admin)).await.status, StatusCode::UNAUTHORIZED);

    let view: SecurityView = app.call(&t.host, LOAD, &[], Some(&admin)).await.json();
    assert!(view.allowlist.is_empty(), "nothing was written");
}
