//! OpenID Connect sign-in against a provider that runs in the test on loopback: real HTTP
//! discovery, JWKS and token endpoints, ID tokens signed with a key made for the test, so each
//! forged token (wrong audience, nonce, key, algorithm, expiry) is refused for its reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::support::{TestApp, TestTenant};
use app::auth::model::Role;
use app::settings::api::UsersView;
use app::sso::model::SsoOverview;

const CLIENT_ID: &str = "beacon-test";
const CLIENT_SECRET: &str = "s3cret with spaces & symbols";

/// How the next ID token is signed; the default is properly.
/// A change to the claims or the signing of the next ID token.
type Edit = dyn FnOnce(&mut Value, &mut Forge);

struct Forge {
    /// Signs with a key that is not in the JWKS.
    foreign_key: bool,
    /// `alg: none` and no signature.
    unsigned: bool,
}

struct Issued {
    claims: Value,
    challenge: String,
    forge: Forge,
}

struct Provider {
    base: String,
    key: EcdsaKeyPair,
    other_key: EcdsaKeyPair,
    codes: Mutex<HashMap<String, Issued>>,
}

fn key_pair() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

impl Provider {
    fn sign(&self, claims: &Value, forge: &Forge) -> String {
        let alg = if forge.unsigned { "none" } else { "ES256" };
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "kid": "k1", "typ": "JWT" }).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{payload}");
        if forge.unsigned {
            return format!("{signed}.");
        }
        let key = if forge.foreign_key { &self.other_key } else { &self.key };
        let signature = key.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(json!({
        "issuer": p.base,
        "authorization_endpoint": format!("{}/authorize", p.base),
        "token_endpoint": format!("{}/token", p.base),
        "jwks_uri": format!("{}/jwks", p.base),
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> Json<Value> {
    let point = p.key.public_key().as_ref();
    Json(json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]}))
}

/// Exchanges a code: client authenticated with HTTP Basic, PKCE verifier checked.
async fn token(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let refuse = |error: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": error })));
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let expected = STANDARD.encode(format!("{CLIENT_ID}:{}", "s3cret%20with%20spaces%20%26%20symbols"));
    if basic != Some(expected.as_str()) {
        return Err(refuse("invalid_client"));
    }
    let issued = p.codes.lock().unwrap().remove(form.get("code").map(String::as_str).unwrap_or_default());
    let issued = issued.ok_or_else(|| refuse("invalid_grant"))?;
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    if challenge != issued.challenge || form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err(refuse("invalid_grant"));
    }
    Ok(Json(json!({ "access_token": "at", "token_type": "Bearer", "id_token": p.sign(&issued.claims, &issued.forge) })))
}

async fn start_provider() -> Arc<Provider> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let provider =
        Arc::new(Provider { base, key: key_pair(), other_key: key_pair(), codes: Mutex::new(HashMap::new()) });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    provider
}

pub fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v).unwrap_or_default()
}

struct Sso<'a> {
    app: &'a TestApp,
    t: &'a TestTenant,
    provider: Arc<Provider>,
    provider_id: String,
    /// Whether the callback comes back to the browser that started the sign-in.
    same_browser: std::cell::Cell<bool>,
}

impl Sso<'_> {
    fn claims(&self, sub: &str, email: &str, nonce: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({ "iss": self.provider.base, "sub": sub, "aud": CLIENT_ID, "exp": now + 300, "iat": now,
                "nonce": nonce, "email": email, "email_verified": true, "name": "Sam Sso" })
    }

    /// Starts at our `/sso/{id}/start`, "signs in" at the provider (which issues a code for
    /// the claims `edit` makes), and comes back to the callback. Returns the callback answer.
    async fn sign_in(&self, edit: impl FnOnce(&mut Value, &mut Forge)) -> crate::support::TestResponse {
        self.round_trip(edit).await.0
    }

    /// The callback's answer and the callback path (to replay it).
    async fn round_trip(&self, edit: impl FnOnce(&mut Value, &mut Forge)) -> (crate::support::TestResponse, String) {
        let started = self.app.get(&self.t.host, &format!("/sso/{}/start", self.provider_id), None).await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
        let authorize = started.headers[header::LOCATION].to_str().unwrap().to_owned();
        assert!(authorize.starts_with(&format!("{}/authorize?", self.provider.base)));
        assert_eq!(query_param(&authorize, "code_challenge_method"), "S256");
        assert_eq!(query_param(&authorize, "redirect_uri"), format!("http://{}/sso/callback", self.t.host));
        let mut claims = self.claims(
            "subject-1",
            &format!("sam@{}.example.com", self.t.tenant.slug),
            &query_param(&authorize, "nonce"),
        );
        let mut forge = Forge { foreign_key: false, unsigned: false };
        edit(&mut claims, &mut forge);
        let code = uuid::Uuid::new_v4().to_string();
        let issued = Issued { claims, challenge: query_param(&authorize, "code_challenge"), forge };
        self.provider.codes.lock().unwrap().insert(code.clone(), issued);
        let callback = format!("/sso/callback?code={code}&state={}", query_param(&authorize, "state"));
        let browser = if self.same_browser.get() { started.session_cookie() } else { None };
        (self.app.get(&self.t.host, &callback, browser.as_deref()).await, callback)
    }
}

fn failure_reasons(app_audit: &[(String, String, String)]) -> usize {
    app_audit.iter().filter(|(a, _, o)| a == "sso.login" && o == "failure").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_sign_in_provisions_links_and_refuses_every_forged_answer() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let provider = start_provider().await;

    // Settings → Single sign-on: a wrong issuer is refused before anything is saved.
    let add = |issuer: String| {
        let form = [
            ("kind".to_owned(), "oidc".to_owned()),
            ("name".to_owned(), "Okta".to_owned()),
            ("issuer".to_owned(), issuer),
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            ("default_role".to_owned(), "developer".to_owned()),
            ("allowed_domains".to_owned(), format!("{}.example.com", t.tenant.slug)),
            ("role_claim".to_owned(), "groups".to_owned()),
            ("role_mapping".to_owned(), "beacon-admins = admin\nbeacon-maintainers = maintainer".to_owned()),
        ];
        let admin = admin.clone();
        let app = &app;
        let host = t.host.clone();
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.call(&host, "/api/settings/sso/add", &form, Some(&admin)).await
        }
    };
    let wrong = add(format!("{}/elsewhere", provider.base)).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.body);
    let added = add(provider.base.clone()).await;
    assert!(added.status.is_success(), "{} {}", added.status, added.body);
    let overview: SsoOverview = app.call(&t.host, "/api/settings/sso", &[], Some(&admin)).await.json();
    assert_eq!(overview.redirect_uri, format!("http://{}/sso/callback", t.host));
    let provider_id = overview.providers[0].id.to_string();
    assert!(app.get(&t.host, "/login", None).await.body.contains(&format!("/sso/{provider_id}/start")));
    let sso = Sso { app: &app, t: &t, provider: provider.clone(), provider_id, same_browser: true.into() };
    assert_eq!(overview.providers[0].role_mapping.len(), 2);

    // A first sign-in creates the member with the provider's default role.
    let signed = sso.sign_in(|_, _| {}).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.headers[header::LOCATION], "/");
    let cookie = signed.session_cookie().expect("a session");
    assert_eq!(app.get(&t.host, "/", Some(&cookie)).await.status, StatusCode::OK);
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    let sam = users.members.iter().find(|m| m.email.starts_with("sam@")).expect("provisioned");
    assert_eq!(sam.role, Role::Developer);

    // The same subject signs in again as the same member, whatever email it now claims; the
    // callback cannot be replayed.
    let (again, callback) = sso.round_trip(|c, _| c["email"] = json!("renamed@elsewhere.example")).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let replayed = app.get(&t.host, &callback, None).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST, "a state works once");

    // The provider's groups set the role at every sign-in.
    let promoted = sso.sign_in(|c, _| c["groups"] = json!(["staff", "beacon-maintainers"])).await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.body);
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    assert_eq!(users.members.iter().find(|m| m.email.starts_with("sam@")).unwrap().role, Role::Maintainer);

    // An existing member is linked by verified email, keeping their role.
    let email = format!("val@{}.example.com", t.tenant.slug);
    let (val_id, _) = app.member(&t, &admin, &email, Role::Maintainer).await;
    let linked = sso
        .sign_in(|c, _| {
            c["sub"] = json!("subject-val");
            c["email"] = json!(email.clone());
        })
        .await;
    assert_eq!(linked.status, StatusCode::SEE_OTHER, "{}", linked.body);
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    assert_eq!(users.members.iter().filter(|m| m.email == email).count(), 1);
    assert_eq!(users.members.iter().find(|m| m.email == email).unwrap().user_id.to_string(), val_id);

    // Every forged or unusable answer is refused, and the audit log says why.
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, Box<Edit>)> = vec![
        ("wrong audience", Box::new(|c, _| c["aud"] = json!("another-client"))),
        ("nonce", Box::new(|c, _| c["nonce"] = json!("not-the-nonce"))),
        ("expired", Box::new(move |c, _| c["exp"] = json!(now - 3600))),
        ("issued in the future", Box::new(move |c, _| c["iat"] = json!(now + 3600))),
        ("wrong issuer", Box::new(|c, _| c["iss"] = json!("http://127.0.0.1:1"))),
        ("signed by another key", Box::new(|_, f| f.foreign_key = true)),
        ("alg none", Box::new(|_, f| f.unsigned = true)),
        (
            "unverified email",
            Box::new(|c, _| {
                c["sub"] = json!("subject-new");
                c["email_verified"] = json!(false);
            }),
        ),
        (
            "domain not allowed",
            Box::new(|c, _| {
                c["sub"] = json!("subject-other");
                c["email"] = json!("eve@evil.example");
            }),
        ),
    ];
    let before = failure_reasons(&app.audit_actions(&t.tenant).await);
    for (case, edit) in cases {
        let refused = sso.sign_in(edit).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{case}: {}", refused.body);
        assert!(refused.body.contains("reference"), "{case}");
        assert!(
            refused.session_cookie().is_none()
                || app.get(&t.host, "/", refused.session_cookie().as_deref()).await.status == StatusCode::SEE_OTHER,
            "{case}: no session"
        );
    }
    assert_eq!(failure_reasons(&app.audit_actions(&t.tenant).await) - before, 9);

    // A genuine callback in a browser that did not start the sign-in (login CSRF) is refused.
    sso.same_browser.set(false);
    assert_eq!(sso.sign_in(|_, _| {}).await.status, StatusCode::BAD_REQUEST, "callback in another browser");
    sso.same_browser.set(true);

    // "Single sign-on required": members other than admins can no longer use passwords.
    let invited = app
        .call(
            &t.host,
            "/api/settings/users/invite",
            &[("email", &format!("pw@{}.example.com", t.tenant.slug)), ("display_name", "Pat"), ("role", "viewer")],
            Some(&admin),
        )
        .await;
    assert!(invited.status.is_success());
    let view: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    let password = view.invitation.and_then(|i| i.one_time_password).unwrap();
    let required = app.call(&t.host, "/api/settings/sso/required", &[("required", "true")], Some(&admin)).await;
    assert!(required.status.is_success(), "{} {}", required.status, required.body);
    let pat = [("email", format!("pw@{}.example.com", t.tenant.slug)), ("password", password)];
    let pat: Vec<(&str, &str)> = pat.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = app.call(&t.host, "/api/auth/login", &pat, None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("single sign-on"));
    app.login(&t.host, &t.admin_email, &t.admin_password).await;
    let off = app.call(&t.host, "/api/settings/sso/required", &[], Some(&admin)).await;
    assert!(off.status.is_success());
    app.login(&t.host, pat[0].1, pat[1].1).await;

    // An unknown state gets nowhere, nor does a provider's refusal.
    let unknown = app.get(&t.host, "/sso/callback?code=x&state=made-up", None).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let denied = app.get(&t.host, "/sso/callback?error=access_denied&state=x", None).await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST);

    let actions = app.audit_actions(&t.tenant).await;
    for action in ["sso.provider_added", "sso.provisioned", "tenant.sso_required_changed", "user.role_changed"] {
        assert!(actions.iter().any(|(a, _, o)| a == action && o == "success"), "{action}");
    }
    assert!(actions.iter().filter(|(a, _, o)| a == "sso.login" && o == "success").count() >= 3);
}

/// A GitHub-style OAuth server: token endpoint, `/user`, `/user/emails`, `/user/orgs` under
/// `/api/v3` as on GitHub Enterprise Server.
struct GitHub {
    base: String,
    /// code → (PKCE challenge, person)
    codes: Mutex<HashMap<String, (String, Person)>>,
    tokens: Mutex<HashMap<String, Person>>,
}

#[derive(Clone)]
struct Person {
    id: u64,
    email: String,
    verified: bool,
    orgs: Vec<&'static str>,
}

async fn github_token(State(g): State<Arc<GitHub>>, Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    let issued = g.codes.lock().unwrap().remove(form.get("code").map(String::as_str).unwrap_or_default());
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    match issued {
        Some((expected, person))
            if expected == challenge && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET) =>
        {
            let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
            g.tokens.lock().unwrap().insert(token.clone(), person);
            Json(json!({ "access_token": token, "token_type": "bearer", "scope": "read:user,user:email,read:org" }))
        }
        // GitHub answers token errors with 200 and an `error` field.
        _ => Json(json!({ "error": "bad_verification_code" })),
    }
}

fn person(g: &GitHub, headers: &HeaderMap) -> Result<Person, StatusCode> {
    let token =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    token.and_then(|t| g.tokens.lock().unwrap().get(t).cloned()).ok_or(StatusCode::UNAUTHORIZED)
}

async fn github_user(State(g): State<Arc<GitHub>>, headers: HeaderMap) -> Result<Json<Value>, StatusCode> {
    let p = person(&g, &headers)?;
    Ok(Json(json!({ "id": p.id, "login": format!("user{}", p.id), "name": null })))
}

async fn github_emails(State(g): State<Arc<GitHub>>, headers: HeaderMap) -> Result<Json<Value>, StatusCode> {
    let p = person(&g, &headers)?;
    Ok(Json(json!([
        { "email": format!("{}@users.noreply.github.com", p.id), "primary": false, "verified": true },
        { "email": p.email, "primary": true, "verified": p.verified },
    ])))
}

async fn github_orgs(State(g): State<Arc<GitHub>>, headers: HeaderMap) -> Result<Json<Value>, StatusCode> {
    let p = person(&g, &headers)?;
    Ok(Json(Value::Array(p.orgs.iter().map(|o| json!({ "login": o })).collect())))
}

#[tokio::test(flavor = "multi_thread")]
async fn github_sign_in_uses_the_primary_verified_email_and_the_organisation() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let github = Arc::new(GitHub { base, codes: Mutex::new(HashMap::new()), tokens: Mutex::new(HashMap::new()) });
    let stub = Router::new()
        .route("/login/oauth/access_token", post(github_token))
        .route("/api/v3/user", get(github_user))
        .route("/api/v3/user/emails", get(github_emails))
        .route("/api/v3/user/orgs", get(github_orgs))
        .with_state(github.clone());
    tokio::spawn(async move { axum::serve(listener, stub).await.unwrap() });

    let form = [
        ("kind", "github"),
        ("organization", "acme"),
        ("name", "GitHub"),
        ("issuer", github.base.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("default_role", "viewer"),
    ];
    let added = app.call(&t.host, "/api/settings/sso/add", &form, Some(&admin)).await;
    assert!(added.status.is_success(), "{} {}", added.status, added.body);
    let overview: SsoOverview = app.call(&t.host, "/api/settings/sso", &[], Some(&admin)).await.json();
    let id = overview.providers[0].id;
    assert_eq!(overview.providers[0].organization.as_deref(), Some("acme"));

    let round_trip = |who: Person| {
        let (app, host, github) = (&app, t.host.clone(), github.clone());
        async move {
            let started = app.get(&host, &format!("/sso/{id}/start"), None).await;
            let authorize = started.headers[header::LOCATION].to_str().unwrap().to_owned();
            assert!(authorize.starts_with(&format!("{}/login/oauth/authorize?", github.base)), "{authorize}");
            assert!(query_param(&authorize, "scope").contains("read:org"));
            assert_eq!(query_param(&authorize, "nonce"), "", "no nonce: GitHub has no ID token");
            let code = uuid::Uuid::new_v4().to_string();
            github.codes.lock().unwrap().insert(code.clone(), (query_param(&authorize, "code_challenge"), who));
            let callback = format!("/sso/callback?code={code}&state={}", query_param(&authorize, "state"));
            (app.get(&host, &callback, started.session_cookie().as_deref()).await, callback)
        }
    };
    let octo =
        Person { id: 4242, email: format!("octo@{}.example.com", t.tenant.slug), verified: true, orgs: vec!["acme"] };
    let (signed, callback) = round_trip(octo.clone()).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.headers[header::LOCATION], "/");
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    let member = users.members.iter().find(|m| m.email == octo.email).expect("provisioned from the primary email");
    assert_eq!(member.role, Role::Viewer);
    assert_eq!(app.get(&t.host, &callback, None).await.status, StatusCode::BAD_REQUEST, "no replay");

    let outsider =
        Person { id: 7, email: format!("out@{}.example.com", t.tenant.slug), verified: true, orgs: vec!["other"] };
    assert_eq!(round_trip(outsider).await.0.status, StatusCode::BAD_REQUEST, "not in the organisation");
    let unverified =
        Person { id: 8, email: format!("unv@{}.example.com", t.tenant.slug), verified: false, orgs: vec!["acme"] };
    assert_eq!(round_trip(unverified).await.0.status, StatusCode::BAD_REQUEST, "primary email not verified");
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    assert!(!users.members.iter().any(|m| m.email.starts_with("out@") || m.email.starts_with("unv@")));
    assert_eq!(failure_reasons(&app.audit_actions(&t.tenant).await), 3);
}
