//! The SAML attack suite. A test IdP key signs each response freshly with the `xmlsec1` tool
//! (another implementation than the one that verifies), posted to our assertion consumer service
//! the way a browser does (cross-site, form-encoded) after a real SP-initiated start. Every
//! forged, altered or stale response is refused, and the audit log says why.

use std::path::PathBuf;
use std::process::Command;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;

use crate::sso::query_param;
use crate::support::{TestApp, TestResponse, TestTenant};
use app::auth::model::Role;
use app::error::AppError;
use app::settings::api::UsersView;
use app::sso::model::{ProviderView, SsoOverview};

const IDP_ENTITY_ID: &str = "http://idp.example.test/metadata";
/// Never contacted: the tests play the browser and the IdP.
const IDP_SSO_URL: &str = "http://127.0.0.1:9/sso";
const SHA256: (&str, &str) =
    ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256");
const SHA1: (&str, &str) = ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1");

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A signing key with its self-signed certificate, as PEM files for xmlsec1.
struct Key {
    key_file: PathBuf,
    cert_file: PathBuf,
    cert_pem: String,
}

impl Key {
    fn new(dir: &std::path::Path, name: &str) -> Self {
        let keys = app::sso::saml::new_sp_keys().expect("key pair");
        let (key_file, cert_file) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.crt")));
        let cert_pem = pem("CERTIFICATE", &keys.certificate);
        std::fs::write(&key_file, pem("RSA PRIVATE KEY", &keys.private_key)).unwrap();
        std::fs::write(&cert_file, &cert_pem).unwrap();
        Self { key_file, cert_file, cert_pem }
    }
}

/// The test IdP: its own key, and an attacker's.
struct Idp {
    dir: PathBuf,
    key: Key,
    other: Key,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Idp {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("beacon-saml-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self { key: Key::new(&dir, "idp"), other: Key::new(&dir, "attacker"), dir }
    }

    /// Fills in the one `<ds:Signature>` template of `xml` with xmlsec1. The key's certificate
    /// goes into any `<ds:X509Data/>` of the template, its public key into any `<ds:KeyValue/>`.
    fn sign(&self, xml: &str, key: &Key) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (input, output) = (self.dir.join(format!("{id}.in.xml")), self.dir.join(format!("{id}.out.xml")));
        std::fs::write(&input, xml).unwrap();
        let keys = format!("{},{}", key.key_file.display(), key.cert_file.display());
        let result = Command::new("xmlsec1")
            .args(["--sign", "--privkey-pem", &keys])
            .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"])
            .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response"])
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()
            .expect("xmlsec1 (installed by scripts/setup.sh)");
        assert!(result.status.success(), "xmlsec1: {}\n{xml}", String::from_utf8_lossy(&result.stderr));
        let signed = std::fs::read_to_string(&output).unwrap();
        // Drop the XML declaration xmlsec1 writes, so documents can be nested.
        signed.trim_start().strip_prefix("<?xml version=\"1.0\"?>").unwrap_or(&signed).trim().to_owned()
    }
}

/// A `<ds:Signature>` template over the element with id `reference`.
fn signature_template(reference: &str, (signature, digest): (&str, &str), key_info: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{signature}"/><ds:Reference URI="#{reference}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>{key_info}</ds:Signature>"##
    )
}

fn instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a response says; each attack changes some of it.
#[derive(Clone)]
struct Claims {
    response_id: String,
    assertion_id: String,
    issuer: String,
    name_id: String,
    groups: Vec<String>,
    audience: String,
    recipient: String,
    destination: String,
    in_response_to: Option<String>,
    not_before: DateTime<Utc>,
    not_on_or_after: DateTime<Utc>,
    authn_statement: bool,
    algorithms: (&'static str, &'static str),
}

fn new_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

impl Claims {
    fn in_response_to(&self) -> String {
        self.in_response_to.as_ref().map(|id| format!(r#" InResponseTo="{id}""#)).unwrap_or_default()
    }

    /// The assertion, with a signature template if `signed`.
    fn assertion(&self, signed: bool) -> String {
        let now = instant(Utc::now());
        let signature =
            if signed { signature_template(&self.assertion_id, self.algorithms, "") } else { String::new() };
        let groups: String =
            self.groups.iter().map(|g| format!("<saml:AttributeValue>{g}</saml:AttributeValue>")).collect();
        let authn = if self.authn_statement {
            format!(
                r#"<saml:AuthnStatement AuthnInstant="{now}" SessionIndex="{id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
                id = self.assertion_id
            )
        } else {
            String::new()
        };
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{irt} NotOnOrAfter="{until}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{from}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>{authn}<saml:AttributeStatement><saml:Attribute Name="firstName"><saml:AttributeValue>Sam</saml:AttributeValue></saml:Attribute><saml:Attribute Name="lastName"><saml:AttributeValue>Saml</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups">{groups}</saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            id = self.assertion_id,
            issuer = self.issuer,
            name_id = self.name_id,
            irt = self.in_response_to(),
            until = instant(self.not_on_or_after),
            from = instant(self.not_before),
            recipient = self.recipient,
            audience = self.audience,
        )
    }

    /// The response around `assertion`, with a signature template if `signed`.
    fn response(&self, assertion: &str, signed: bool) -> String {
        let signature = if signed { signature_template(&self.response_id, self.algorithms, "") } else { String::new() };
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{destination}"{irt}><saml:Issuer>{issuer}</saml:Issuer>{signature}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
            id = self.response_id,
            now = instant(Utc::now()),
            destination = self.destination,
            irt = self.in_response_to(),
            issuer = self.issuer,
        )
    }
}

/// One tenant's SAML provider, and the browser's side of the round trip.
struct Sp<'a> {
    app: &'a TestApp,
    t: &'a TestTenant,
    idp: &'a Idp,
    provider: ProviderView,
}

impl Sp<'_> {
    fn id(&self) -> uuid::Uuid {
        self.provider.id
    }

    /// Starts a sign-in at `/sso/{id}/start` in a new browser: the RelayState, the AuthnRequest
    /// id and the browser's session cookie.
    async fn start(&self) -> (String, String, String) {
        let started = self.app.get(&self.t.host, &format!("/sso/{}/start", self.id()), None).await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
        let location = started.headers[header::LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with(&format!("{IDP_SSO_URL}?SAMLRequest=")), "{location}");
        assert_eq!(query_param(&location, "SigAlg"), SHA256.0, "requests are signed with RSA-SHA256");
        assert!(!query_param(&location, "Signature").is_empty());
        let relay = query_param(&location, "RelayState");
        let pending: Option<String> = self.app.redis().get(format!("sso:saml:pending:{relay}")).await.unwrap();
        let pending: serde_json::Value = serde_json::from_str(&pending.expect("pending request")).unwrap();
        let cookie = started.session_cookie().expect("the start binds the sign-in to this browser");
        (relay, pending["request_id"].as_str().unwrap().to_owned(), cookie)
    }

    /// Follows the ACS's redirect to the finish step, in the browser holding `cookie`.
    async fn finish(&self, accepted: TestResponse, cookie: Option<&str>) -> TestResponse {
        assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
        let location = accepted.headers[header::LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with(&format!("/sso/saml/{}/finish?token=", self.id())), "{location}");
        self.app.get(&self.t.host, &location, cookie).await
    }

    /// A valid answer to the request `request_id`.
    fn claims(&self, request_id: Option<&str>, name_id: &str) -> Claims {
        let saml = self.provider.saml.as_ref().unwrap();
        let now = Utc::now();
        Claims {
            response_id: new_id(),
            assertion_id: new_id(),
            issuer: IDP_ENTITY_ID.into(),
            name_id: name_id.into(),
            groups: vec!["engineering".into()],
            audience: saml.sp_entity_id.clone(),
            recipient: saml.acs_url.clone(),
            destination: saml.acs_url.clone(),
            in_response_to: request_id.map(str::to_owned),
            not_before: now - Duration::seconds(5),
            not_on_or_after: now + Duration::minutes(5),
            authn_statement: true,
            algorithms: SHA256,
        }
    }

    /// Posts a response the way the IdP's page makes the browser do it.
    async fn post(&self, xml: &str, relay: &str) -> TestResponse {
        self.post_bytes(xml.as_bytes(), relay).await
    }

    /// Posts a response in whatever bytes (another encoding) the attack needs.
    async fn post_bytes(&self, xml: &[u8], relay: &str) -> TestResponse {
        let body = serde_urlencoded::to_string([("SAMLResponse", STANDARD.encode(xml)), ("RelayState", relay.into())])
            .unwrap();
        self.post_body(body).await
    }

    async fn post_body(&self, body: String) -> TestResponse {
        let request = Request::post(format!("/sso/saml/{}/acs", self.id()))
            .header(header::HOST, &self.t.host)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "cross-site")
            .header(header::ORIGIN, "http://127.0.0.1:9")
            .body(Body::from(body))
            .unwrap();
        self.app.send(request).await
    }

    /// A signed response to a fresh request, shaped by `edit`; returns the ACS answer.
    async fn attempt(&self, edit: impl FnOnce(&mut Claims)) -> TestResponse {
        let (relay, request_id, _) = self.start().await;
        let mut claims = self.claims(Some(&request_id), &format!("sam@{}.example.com", self.t.tenant.slug));
        edit(&mut claims);
        let signed = self.idp.sign(&claims.assertion(true), &self.idp.key);
        self.post(&claims.response(&signed, false), &relay).await
    }
}

#[derive(QueryableByName)]
struct Reason {
    #[diesel(sql_type = Text)]
    reason: String,
}

/// The audited reason of the latest failed single sign-on of the tenant.
async fn last_failure(app: &TestApp, t: &TestTenant) -> String {
    app.db
        .with_tenant(&t.tenant, |conn| {
            Box::pin(async move {
                let r: Reason = diesel::sql_query(
                    "SELECT details->>'reason' AS reason FROM audit_events \
                     WHERE action = 'sso.login' AND outcome = 'failure' ORDER BY id DESC LIMIT 1",
                )
                .get_result(conn)
                .await?;
                Ok::<_, AppError>(r.reason)
            })
        })
        .await
        .expect("a failed sign-in is audited")
}

async fn add_provider(app: &TestApp, t: &TestTenant, admin: &str, idp: &Idp, extra: &[(&str, &str)]) -> ProviderView {
    let name = format!("Okta {}", uuid::Uuid::new_v4().simple());
    let mut form = vec![
        ("name", name.as_str()),
        ("entity_id", IDP_ENTITY_ID),
        ("sso_url", IDP_SSO_URL),
        ("certificate", idp.key.cert_pem.as_str()),
        ("preset", "custom"),
        ("first_name_attribute", "firstName"),
        ("last_name_attribute", "lastName"),
        ("groups_attribute", "groups"),
        ("role_mapping", "beacon-admins = admin\nengineering = maintainer"),
        ("default_role", "viewer"),
    ];
    for (key, value) in extra {
        form.retain(|(k, _)| k != key);
        form.push((key, value));
    }
    let added = app.call(&t.host, "/api/settings/sso/add-saml", &form, Some(admin)).await;
    assert!(added.status.is_success(), "{} {}", added.status, added.body);
    let overview: SsoOverview = app.call(&t.host, "/api/settings/sso", &[], Some(admin)).await.json();
    overview.providers.into_iter().find(|p| p.name == name).expect("listed")
}

/// Refused with 400 and a reference on the page; the audited reason contains `reason`.
async fn assert_refused(app: &TestApp, t: &TestTenant, case: &str, response: TestResponse, reason: &str) {
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{case}: {}", response.body);
    assert!(response.body.contains("reference"), "{case}: {}", response.body);
    if let Some(cookie) = response.session_cookie() {
        let home = app.get(&t.host, "/", Some(&cookie)).await;
        assert_eq!(home.status, StatusCode::SEE_OTHER, "{case}: nobody signed in");
    }
    let audited = last_failure(app, t).await;
    // Shown with --nocapture: the verdict of each case, as the closing note lists them.
    println!("refused {case}: {audited}");
    assert!(audited.contains(reason), "{case}: audited `{audited}`, expected `{reason}`");
}

#[tokio::test(flavor = "multi_thread")]
async fn saml_settings_refuse_an_idp_without_a_signing_certificate_and_publish_our_metadata() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let idp = Idp::new();

    let unsigned = [
        ("name", "No cert"),
        ("entity_id", IDP_ENTITY_ID),
        ("sso_url", IDP_SSO_URL),
        ("preset", "okta"),
        ("default_role", "viewer"),
    ];
    let refused = app.call(&t.host, "/api/settings/sso/add-saml", &unsigned, Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("certificate"), "{}", refused.body);
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    );
    let form = [("name", "No cert"), ("metadata", metadata.as_str()), ("preset", "okta"), ("default_role", "viewer")];
    let refused = app.call(&t.host, "/api/settings/sso/add-saml", &form, Some(&admin)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "metadata without a key: {}", refused.body);
    let overview: SsoOverview = app.call(&t.host, "/api/settings/sso", &[], Some(&admin)).await.json();
    assert!(overview.providers.is_empty(), "nothing half-saved");

    let provider = add_provider(&app, &t, &admin, &idp, &[]).await;
    let saml = provider.saml.clone().expect("SAML settings");
    assert_eq!(saml.acs_url, format!("http://{}/sso/saml/{}/acs", t.host, provider.id));
    assert_eq!(saml.sp_entity_id, format!("http://{}/sso/saml/{}/metadata", t.host, provider.id));
    assert_eq!(saml.certificates.len(), 1);
    assert_eq!(saml.email_attribute, None, "custom preset: the NameID is the email");
    let ours = app.get(&t.host, &format!("/sso/saml/{}/metadata", provider.id), None).await;
    assert_eq!(ours.status, StatusCode::OK);
    assert_eq!(ours.headers[header::CONTENT_TYPE], "application/samlmetadata+xml");
    assert!(ours.body.contains(&format!(r#"entityID="{}""#, saml.sp_entity_id)));
    assert!(ours.body.contains(&format!(r#"Location="{}""#, saml.acs_url)));
    assert!(ours.body.contains("X509Certificate"));
    // Another tenant has no such provider.
    let other = app.tenant().await;
    let elsewhere = app.get(&other.host, &format!("/sso/saml/{}/metadata", provider.id), None).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    // A preset fills the attributes left empty.
    let okta = add_provider(&app, &t, &admin, &idp, &[("preset", "okta")]).await;
    assert_eq!(okta.saml.unwrap().email_attribute.as_deref(), Some("email"));
    let actions = app.audit_actions(&t.tenant).await;
    assert_eq!(actions.iter().filter(|(a, _, o)| a == "sso.provider_added" && o == "success").count(), 2);
    // The group → role mapping is optional, also with a preset that names a groups attribute.
    let unmapped = [("preset", "okta"), ("groups_attribute", ""), ("role_mapping", "")];
    let unmapped = add_provider(&app, &t, &admin, &idp, &unmapped).await;
    assert_eq!((unmapped.role_claim, unmapped.role_mapping), (None, vec![]));
    assert_eq!(unmapped.saml.unwrap().email_attribute.as_deref(), Some("email"), "the preset still applies");
}

#[tokio::test(flavor = "multi_thread")]
async fn saml_sign_in_provisions_with_the_mapped_role_and_refuses_every_attack() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let idp = Idp::new();
    let sp = Sp { app: &app, t: &t, idp: &idp, provider: add_provider(&app, &t, &admin, &idp, &[]).await };

    // Valid: a signed assertion answering our request signs Sam in, provisioned as maintainer
    // through the `engineering` group; the session is new.
    let (relay, request_id, browser) = sp.start().await;
    let email = format!("sam@{}.example.com", t.tenant.slug);
    let claims = sp.claims(Some(&request_id), &email);
    let valid = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    let accepted = sp.post(&valid, &relay).await;
    let finish = accepted.headers.get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
    let signed_in = sp.finish(accepted, Some(&browser)).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
    assert_eq!(signed_in.headers[header::LOCATION], "/");
    let cookie = signed_in.session_cookie().expect("a session");
    assert_eq!(app.get(&t.host, "/", Some(&cookie)).await.status, StatusCode::OK);
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    let sam = users.members.iter().find(|m| m.email == email).expect("provisioned just in time");
    assert_eq!(sam.role, Role::Maintainer);
    assert_eq!(sam.display_name, "Sam Saml");

    // The same POST again: the RelayState has been used; so has the finish token.
    assert_refused(&app, &t, "replayed POST", sp.post(&valid, &relay).await, "already used RelayState").await;
    let again = app.get(&t.host, &finish.unwrap(), Some(&browser)).await;
    assert_refused(&app, &t, "replayed finish", again, "already used finish token").await;

    // A genuine response finished in a browser that did not start the sign-in (login CSRF:
    // an attacker's own assertion pushed into a victim's browser) signs nobody in.
    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let pushed = sp.post(&claims.response(&idp.sign(&claims.assertion(true), &idp.key), false), &relay).await;
    let (_, _, victim) = sp.start().await;
    assert_refused(&app, &t, "finished in another browser", sp.finish(pushed, Some(&victim)).await, "another browser")
        .await;

    // A signed Response around an unsigned assertion is accepted too.
    let (relay, request_id, browser) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let signed_response = idp.sign(&claims.response(&claims.assertion(false), true), &idp.key);
    let finished = sp.finish(sp.post(&signed_response, &relay).await, Some(&browser)).await;
    assert_eq!(finished.status, StatusCode::SEE_OTHER, "signed Response: {}", finished.body);
    assert!(finished.session_cookie().is_some());

    const WRONG_KEY: &str = "no signature from the provider's certificate";
    let now = Utc::now();
    let key_info_cases = [
        ("signed by another key", ""),
        ("inline KeyValue of another key", "<ds:KeyInfo><ds:KeyValue/></ds:KeyInfo>"),
        ("inline X509 certificate of another key", "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>"),
    ];
    for (case, key_info) in key_info_cases {
        let (relay, request_id, _) = sp.start().await;
        let claims = sp.claims(Some(&request_id), &email);
        let template =
            claims.assertion(true).replace("</ds:SignatureValue>", &format!("</ds:SignatureValue>{key_info}"));
        let forged = claims.response(&idp.sign(&template, &idp.other), false);
        assert_refused(&app, &t, case, sp.post(&forged, &relay).await, WRONG_KEY).await;
    }

    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    assert_refused(
        &app,
        &t,
        "unsigned",
        sp.post(&claims.response(&claims.assertion(false), false), &relay).await,
        "not signed",
    )
    .await;

    // Altered after signing: the signed content changed.
    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let altered = idp.sign(&claims.assertion(true), &idp.key).replace("engineering", "beacon-admins");
    assert_refused(
        &app,
        &t,
        "altered after signing",
        sp.post(&claims.response(&altered, false), &relay).await,
        WRONG_KEY,
    )
    .await;

    // XML signature wrapping: the eight classic permutations (Somorovsky et al., 2012). The
    // attacker holds a genuinely signed response for themselves (Sam) and wraps an evil
    // assertion (the tenant's admin) around, before or after it.
    let admin_email = t.admin_email.clone();
    for (case, wrap) in xsw_variants() {
        let (relay, request_id, _) = sp.start().await;
        let genuine = sp.claims(Some(&request_id), &email);
        let mut evil = genuine.clone();
        evil.name_id = admin_email.clone();
        evil.groups = vec!["beacon-admins".into()];
        evil.assertion_id = new_id();
        evil.response_id = new_id();
        let forged = wrap(&idp, &genuine, &evil);
        let refused = sp.post(&forged, &relay).await;
        assert_refused(&app, &t, case, refused, "").await;
        let reason = last_failure(&app, &t).await;
        assert!(reason.contains("assertions; exactly one") || reason.contains(WRONG_KEY), "{case}: {reason}");
    }

    // XML comment inside the NameID (CVE-2018-7340): the IdP signed
    // `admin@…example.com.evil.test` for the attacker; with a comment inserted the signature
    // still holds, and a careless reader would see the tenant's admin.
    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &format!("{admin_email}.evil.test"));
    let signed = idp.sign(&claims.assertion(true), &idp.key);
    let injected = signed.replace(&format!("{admin_email}.evil.test"), &format!("{admin_email}<!---->.evil.test"));
    assert_refused(
        &app,
        &t,
        "comment in NameID",
        sp.post(&claims.response(&injected, false), &relay).await,
        "comments",
    )
    .await;

    type Case = (&'static str, Box<dyn FnOnce(&mut Claims)>, &'static str);
    let cases: Vec<Case> = vec![
        ("wrong Audience", Box::new(|c| c.audience = "http://other-sp.example/metadata".into()), "Audience"),
        ("wrong Destination", Box::new(|c| c.destination = "http://evil.example/acs".into()), "Destination"),
        ("wrong Recipient", Box::new(|c| c.recipient = "http://evil.example/acs".into()), "Recipient"),
        ("wrong Issuer", Box::new(|c| c.issuer = "http://evil.example/idp".into()), "Issuer"),
        (
            "expired",
            Box::new(move |c| {
                c.not_before = now - Duration::minutes(30);
                c.not_on_or_after = now - Duration::minutes(20);
            }),
            "expired",
        ),
        ("not yet valid", Box::new(move |c| c.not_before = now + Duration::minutes(20)), "not valid until"),
        ("InResponseTo unknown", Box::new(|c| c.in_response_to = Some("_not-our-request".into())), "InResponseTo"),
        ("no AuthnStatement", Box::new(|c| c.authn_statement = false), "AuthnStatement"),
        ("SHA-1 when not allowed", Box::new(|c| c.algorithms = SHA1), "SHA-1"),
    ];
    for (case, edit, reason) in cases {
        let refused = sp.attempt(edit).await;
        assert_refused(&app, &t, case, refused, reason).await;
    }

    // Two assertions: the genuine signed one and an unsigned one naming the admin.
    let (relay, request_id, _) = sp.start().await;
    let genuine = sp.claims(Some(&request_id), &email);
    let mut evil = genuine.clone();
    evil.name_id = admin_email.clone();
    evil.assertion_id = new_id();
    let both = format!("{}{}", idp.sign(&genuine.assertion(true), &idp.key), evil.assertion(false));
    assert_refused(&app, &t, "two assertions", sp.post(&genuine.response(&both, false), &relay).await, "2 assertions")
        .await;

    // DOCTYPE with entity expansion.
    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let bomb = format!(
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>{}"#,
        claims.response(&idp.sign(&claims.assertion(true), &idp.key), false).replace("Sam", "&b;")
    );
    assert_refused(&app, &t, "DOCTYPE", sp.post(&bomb, &relay).await, "DOCTYPE").await;

    // Another encoding: libxml2 decodes by the document's own declaration or byte order mark,
    // where a byte search for `<!DOCTYPE` or `<…Assertion` finds nothing. UTF-7 spells `<` as
    // `+ADw-` (and `+` as `+-`, so the signature values survive the decoding).
    let utf7 = |xml: &str| {
        xml.replace('+', "+-").replace('<', "+ADw-").replace('>', "+AD4-").replace('[', "+AFs-").replace(']', "+AF0-")
    };
    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let response = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    let hidden_doctype = format!(
        r#"<?xml version="1.0" encoding="UTF-7"?>{}{}"#,
        utf7(r#"<!DOCTYPE r [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>"#),
        response.replace('+', "+-")
    );
    assert_refused(&app, &t, "UTF-7 hiding a DOCTYPE", sp.post(&hidden_doctype, &relay).await, "`UTF-7`").await;

    let (relay, request_id, _) = sp.start().await;
    let genuine = sp.claims(Some(&request_id), &email);
    let mut evil = genuine.clone();
    evil.name_id = admin_email.clone();
    evil.assertion_id = new_id();
    let signed = idp.sign(&genuine.assertion(true), &idp.key).replace('+', "+-");
    let both = genuine.response(&format!("{}{signed}", utf7(&evil.assertion(false))), false);
    let hidden_assertion = format!(r#"<?xml version="1.0" encoding="UTF-7"?>{both}"#);
    assert_refused(&app, &t, "UTF-7 hiding a second assertion", sp.post(&hidden_assertion, &relay).await, "`UTF-7`")
        .await;

    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let response = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    let utf16_declared = format!(r#"<?xml version="1.0" encoding="UTF-16"?>{response}"#);
    assert_refused(&app, &t, "UTF-16 declaration", sp.post(&utf16_declared, &relay).await, "`UTF-16`").await;

    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let response = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(response.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    assert_refused(&app, &t, "UTF-16 byte order mark", sp.post_bytes(&utf16, &relay).await, "not UTF-8").await;

    // A RelayState nobody issued, with IdP-initiated sign-in off.
    let claims = sp.claims(None, &email);
    let unsolicited = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    assert_refused(&app, &t, "unsolicited", sp.post(&unsolicited, "made-up").await, "IdP-initiated sign-in is off")
        .await;

    // Oversized: refused before it is read (413), not base64 (400).
    let huge = format!("SAMLResponse={}&RelayState=x", "A".repeat(2 * 1024 * 1024));
    assert_eq!(sp.post_body(huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let (relay, _, _) = sp.start().await;
    let large = format!("SAMLResponse={}&RelayState={relay}", "A".repeat(600 * 1024));
    assert_refused(&app, &t, "larger than 256 KiB", sp.post_body(large).await, "larger than 256 KiB").await;

    // A response for this tenant's provider posted to another tenant: no such provider there.
    let other = app.tenant().await;
    let (relay, request_id, _) = sp.start().await;
    let claims = sp.claims(Some(&request_id), &email);
    let elsewhere = Sp { app: &app, t: &other, idp: &idp, provider: sp.provider.clone() };
    let posted = elsewhere.post(&claims.response(&idp.sign(&claims.assertion(true), &idp.key), false), &relay).await;
    assert_refused(&app, &other, "another tenant's ACS", posted, "no longer exists").await;

    // The admin's role and account are untouched by all of the above.
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    assert_eq!(users.members.len(), 2, "only the admin and Sam");
    assert_eq!(users.members.iter().find(|m| m.email == email).unwrap().role, Role::Maintainer);
}

/// The XSW permutations, each built from a genuine signed message and an evil one.
type Wrap = fn(&Idp, &Claims, &Claims) -> String;

fn xsw_variants() -> Vec<(&'static str, Wrap)> {
    vec![
        // 1: the signed Response moves into the evil Response's Signature; the evil Response
        // (unsigned) carries the evil assertion.
        ("XSW1", |idp, genuine, evil| {
            let original = idp.sign(&genuine.response(&genuine.assertion(false), true), &idp.key);
            let signature = extract(&original, "<ds:Signature", "</ds:Signature>");
            let moved = signature.replace("</ds:Signature>", &format!("{original}</ds:Signature>"));
            evil.response(&evil.assertion(false), false).replacen(
                "<samlp:Status>",
                &format!("{moved}<samlp:Status>"),
                1,
            )
        }),
        // 2: as 1, the signed Response placed before the evil content as a sibling.
        ("XSW2", |idp, genuine, evil| {
            let original = idp.sign(&genuine.response(&genuine.assertion(false), true), &idp.key);
            let signature = extract(&original, "<ds:Signature", "</ds:Signature>");
            evil.response(&evil.assertion(false), false).replacen(
                "<samlp:Status>",
                &format!("{signature}{original}<samlp:Status>"),
                1,
            )
        }),
        // 3: the evil assertion inserted before the signed one.
        ("XSW3", |idp, genuine, evil| {
            let signed = idp.sign(&genuine.assertion(true), &idp.key);
            genuine.response(&format!("{}{signed}", evil.assertion(false)), false)
        }),
        // 4: the signed assertion inside the evil one.
        ("XSW4", |idp, genuine, evil| {
            let signed = idp.sign(&genuine.assertion(true), &idp.key);
            let wrapper = evil.assertion(false).replace("</saml:Assertion>", &format!("{signed}</saml:Assertion>"));
            genuine.response(&wrapper, false)
        }),
        // 5: the signature copied into the evil assertion; the signed one appended, unsigned.
        ("XSW5", |idp, genuine, evil| {
            let signed = idp.sign(&genuine.assertion(true), &idp.key);
            let signature = extract(&signed, "<ds:Signature", "</ds:Signature>");
            let evil_with_signature =
                evil.assertion(false).replacen("</saml:Issuer>", &format!("</saml:Issuer>{signature}"), 1);
            let stripped = signed.replace(&signature, "");
            genuine.response(&format!("{evil_with_signature}{stripped}"), false)
        }),
        // 6: the evil assertion carries the signature, with the signed assertion inside it.
        ("XSW6", |idp, genuine, evil| {
            let signed = idp.sign(&genuine.assertion(true), &idp.key);
            let signature = extract(&signed, "<ds:Signature", "</ds:Signature>");
            let stripped = signed.replace(&signature, "");
            let nested = signature.replace("</ds:Signature>", &format!("{stripped}</ds:Signature>"));
            let evil = evil.assertion(false).replacen("</saml:Issuer>", &format!("</saml:Issuer>{nested}"), 1);
            genuine.response(&evil, false)
        }),
        // 7: the signed assertion hidden in an Extensions element; the evil one follows.
        ("XSW7", |idp, genuine, evil| {
            let signed = idp.sign(&genuine.assertion(true), &idp.key);
            let hidden = format!("<samlp:Extensions>{signed}</samlp:Extensions>");
            genuine.response(&evil.assertion(false), false).replacen(
                "<samlp:Status>",
                &format!("{hidden}<samlp:Status>"),
                1,
            )
        }),
        // 8: the evil assertion carries the signature; the signed assertion (unsigned copy) in
        // a ds:Object inside it.
        ("XSW8", |idp, genuine, evil| {
            let signed = idp.sign(&genuine.assertion(true), &idp.key);
            let signature = extract(&signed, "<ds:Signature", "</ds:Signature>");
            let stripped = signed.replace(&signature, "");
            let with_object =
                signature.replace("</ds:Signature>", &format!("<ds:Object>{stripped}</ds:Object></ds:Signature>"));
            let evil = evil.assertion(false).replacen("</saml:Issuer>", &format!("</saml:Issuer>{with_object}"), 1);
            genuine.response(&evil, false)
        }),
    ]
}

/// The first `start`…`end` element of `xml`, inclusive.
fn extract(xml: &str, start: &str, end: &str) -> String {
    let from = xml.find(start).expect("start tag");
    let to = xml[from..].find(end).expect("end tag") + from + end.len();
    xml[from..to].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_initiated_sign_in_is_opt_in_and_its_assertions_cannot_be_replayed() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;
    let idp = Idp::new();
    // People are global (one account, many tenants): addresses unique to this tenant keep the
    // end-to-end IdP's people (ada@, grace@example.com) untouched.
    let domain = format!("{}.example.com", t.tenant.slug);
    let extra = [("allow_idp_initiated", "true"), ("allowed_domains", domain.as_str())];
    let sp = Sp { app: &app, t: &t, idp: &idp, provider: add_provider(&app, &t, &admin, &idp, &extra).await };
    let email = &format!("grace@{domain}");

    let claims = sp.claims(None, email);
    let unsolicited = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    // No browser started it, so any browser may finish it: the reason this is opt-in.
    let first = sp.finish(sp.post(&unsolicited, "").await, None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert_eq!(first.headers[header::LOCATION], "/");
    assert_refused(&app, &t, "replayed assertion", sp.post(&unsolicited, "").await, "replay").await;

    // An unsolicited response that claims to answer a request.
    let mut claims = sp.claims(None, email);
    claims.in_response_to = Some("_some-request".into());
    let posing = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    assert_refused(&app, &t, "unsolicited with InResponseTo", sp.post(&posing, "").await, "").await;

    // The domain allowlist still applies.
    let claims = sp.claims(None, "eve@evil.test");
    let outsider = claims.response(&idp.sign(&claims.assertion(true), &idp.key), false);
    let refused = sp.finish(sp.post(&outsider, "").await, None).await;
    assert_refused(&app, &t, "domain not allowed", refused, "not allowed").await;

    // SHA-1, refused by default, is accepted from a legacy IdP the admin allowed it for.
    let legacy = add_provider(&app, &t, &admin, &idp, &[("allow_sha1", "true")]).await;
    let legacy = Sp { app: &app, t: &t, idp: &idp, provider: legacy };
    let (relay, request_id, browser) = legacy.start().await;
    let mut claims = legacy.claims(Some(&request_id), &format!("legacy@{domain}"));
    claims.algorithms = SHA1;
    let accepted = legacy.post(&claims.response(&idp.sign(&claims.assertion(true), &idp.key), false), &relay).await;
    let finished = legacy.finish(accepted, Some(&browser)).await;
    assert_eq!(finished.status, StatusCode::SEE_OTHER, "SHA-1 where allowed: {}", finished.body);

    // An admin's test sign-in reports and signs nobody in; others may not start one.
    let started = app.get(&t.host, &format!("/sso/{}/start?test=1", sp.id()), Some(&admin)).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let location = started.headers[header::LOCATION].to_str().unwrap().to_owned();
    let relay = query_param(&location, "RelayState");
    let pending: Option<String> = app.redis().get(format!("sso:saml:pending:{relay}")).await.unwrap();
    let pending: serde_json::Value = serde_json::from_str(&pending.unwrap()).unwrap();
    let claims = sp.claims(pending["request_id"].as_str(), &format!("new.person@{domain}"));
    let accepted = sp.post(&claims.response(&idp.sign(&claims.assertion(true), &idp.key), false), &relay).await;
    let tested = sp.finish(accepted, Some(&admin)).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    assert!(tested.body.contains("Test sign-in succeeded") && tested.body.contains(&format!("new.person@{domain}")));
    assert!(tested.body.contains("maintainer (from the role mapping)"), "{}", tested.body);
    assert!(tested.session_cookie().is_none_or(|c| c == admin), "the admin's session, not a new one");
    let users: UsersView = app.call(&t.host, "/api/settings/users/list", &[], Some(&admin)).await.json();
    assert!(users.members.iter().all(|m| !m.email.starts_with("new.person@")), "nobody provisioned");
    let anonymous = app.get(&t.host, &format!("/sso/{}/start?test=1", sp.id()), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.body);
    let actions = app.audit_actions(&t.tenant).await;
    assert!(actions.iter().any(|(a, _, o)| a == "sso.test_login" && o == "success"));
}
