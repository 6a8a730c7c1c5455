//! Single sign-on use cases: configuring a tenant's OpenID Connect providers, and the sign-in
//! round trip — authorization code with PKCE, `state` kept server-side in Redis (single use,
//! ten minutes), `nonce` bound to the ID token — ending in a member of this tenant: the linked
//! identity, else the member with that verified email, else a new member (JIT).

use crate::audit::model::AuditAction;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;
use tower_sessions_redis_store::fred::types::Expiration;
use uuid::Uuid;

use super::api::CALLBACK_PATH;
use super::github;
use super::model::{LoginProvider, ProviderView, RoleMapping};
use super::oidc::{self, Discovery, Expected, JwkSet};
use super::repo::{self, NewProviderRow};
use crate::audit::model::Severity;
use crate::audit::service::{record, record_alone, AuditEvent, AuditSource};
use crate::auth::model::{normalize_email, Role};
use crate::auth::repo as accounts;
use crate::catalog::fetch::{self, FetchPolicy};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::keyring::Purpose;
use crate::state::{AppState, RedisPool};
use crate::tenancy::model::Tenant;

/// How long a started sign-in may take at the provider.
const PENDING_SECONDS: i64 = 600;

/// The largest discovery, key set or token response read.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// The session key of the sign-in this browser started (its OAuth `state` or SAML RelayState):
/// a round trip must end in the browser that began it, or a forged one could sign a victim in
/// as the attacker (login CSRF, RFC 6749 §10.12).
pub const FLOW_KEY: &str = "beacon.sso.flow";

/// A started sign-in: where to send the browser, and the token to bind to its session.
pub struct Started {
    pub url: String,
    pub flow: String,
}

/// Who signed in at the provider, as sign-in needs it, whatever the protocol.
#[derive(Serialize, Deserialize)]
pub struct ExternalUser {
    /// The provider's stable id for the person (`sub`, GitHub's numeric id).
    pub subject: String,
    /// Only an address the provider says it verified.
    pub verified_email: Option<String>,
    pub name: Option<String>,
    /// Values the role mapping matches: the mapped claim's values (OIDC), organisations (GitHub).
    pub groups: Vec<String>,
    /// Every attribute the provider sent (SAML), shown by test sign-ins.
    pub attributes: Vec<(String, Vec<String>)>,
}

/// The kinds of provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Oidc,
    GitHub,
    Saml,
}

impl Kind {
    pub fn parse(raw: &str) -> AppResult<Self> {
        match raw {
            "oidc" => Ok(Kind::Oidc),
            "github" => Ok(Kind::GitHub),
            "saml" => Ok(Kind::Saml),
            other => Err(AppError::Invalid(format!("`{other}` is not a kind of provider; use oidc, github or saml"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Oidc => "oidc",
            Kind::GitHub => "github",
            Kind::Saml => "saml",
        }
    }
}

/// Validated input of the "add provider" form.
pub struct NewProvider {
    pub kind: Kind,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub default_role: Role,
    pub allowed_domains: Vec<String>,
    pub role_claim: Option<String>,
    pub role_mapping: Vec<RoleMapping>,
    pub organization: Option<String>,
}

/// The optional role mapping of the "add provider" form: the claim, and lines `value = role`.
pub struct RoleMappingInput<'a> {
    pub claim: &'a str,
    pub lines: &'a str,
}

impl RoleMappingInput<'_> {
    pub(super) fn parse(&self) -> AppResult<(Option<String>, Vec<RoleMapping>)> {
        let claim = self.claim.trim();
        let mappings = self
            .lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| {
                let (value, role) = line
                    .split_once('=')
                    .ok_or_else(|| AppError::Invalid(format!("`{line}`: write each mapping as `group = role`")))?;
                let role = Role::parse(role)?;
                Ok(RoleMapping { value: value.trim().to_owned(), role: role.as_str().to_owned() })
            })
            .collect::<AppResult<Vec<_>>>()?;
        match (claim.is_empty(), mappings.is_empty()) {
            (true, true) => Ok((None, mappings)),
            (false, false) if claim.len() <= 100 => Ok((Some(claim.to_owned()), mappings)),
            _ => Err(AppError::Invalid(
                "A role mapping needs both the claim name and at least one `value = role` line.".into(),
            )),
        }
    }
}

impl NewProvider {
    /// `issuer` may be blank for GitHub (github.com); `organization` is GitHub's only.
    pub fn parse(
        (kind, organization): (&str, &str),
        (name, issuer): (&str, &str),
        (client_id, client_secret): (&str, &str),
        default_role: &str,
        allowed_domains: &str,
        mapping: RoleMappingInput,
    ) -> AppResult<Self> {
        let name = parse_name(name)?;
        let kind = Kind::parse(kind)?;
        if kind == Kind::Saml {
            return Err(AppError::Invalid("SAML providers are added with their own form.".into()));
        }
        let issuer = match (kind, issuer.trim()) {
            (Kind::GitHub, "") => "https://github.com",
            (_, issuer) => issuer,
        };
        let issuer = fetch::parse(issuer).map_err(AppError::Invalid)?.to_string().trim_end_matches('/').to_owned();
        let organization = Some(organization.trim()).filter(|o| !o.is_empty()).map(str::to_owned);
        if organization.is_some() && kind != Kind::GitHub {
            return Err(AppError::Invalid("An organisation restriction is for GitHub providers.".into()));
        }
        let (client_id, client_secret) = (client_id.trim(), client_secret.trim());
        if client_id.is_empty() || client_secret.is_empty() || client_id.len() > 255 || client_secret.len() > 1024 {
            return Err(AppError::Invalid("The client id and client secret from the provider are required.".into()));
        }
        let default_role = parse_default_role(default_role)?;
        let allowed_domains = parse_domains(allowed_domains)?;
        let (role_claim, role_mapping) = mapping.parse()?;
        Ok(Self {
            kind,
            organization,
            name,
            issuer,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            default_role,
            allowed_domains,
            role_claim,
            role_mapping,
        })
    }
}

pub(super) fn parse_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AppError::Invalid("Give the provider a name of 1 to 60 characters.".into()));
    }
    Ok(name.to_owned())
}

pub(super) fn parse_default_role(role: &str) -> AppResult<Role> {
    let role = Role::parse(role)?;
    if role == Role::Admin {
        return Err(AppError::Invalid("New members from single sign-on cannot start as admins.".into()));
    }
    Ok(role)
}

/// "Allowed email domains": separated by commas, spaces or lines; `@` optional.
pub(super) fn parse_domains(domains: &str) -> AppResult<Vec<String>> {
    domains
        .split([',', ' ', '\n'])
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| {
            if d.contains('.') && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                Ok(d)
            } else {
                Err(AppError::Invalid(format!("`{d}` is not an email domain")))
            }
        })
        .collect()
}

async fn get_json<T: DeserializeOwned>(policy: &FetchPolicy, address: &str) -> Result<T, String> {
    let url = fetch::parse(address)?;
    let client = fetch::pinned_client(policy, &url, "Beacon SSO").await?;
    let response = client.get(url.clone()).send().await.map_err(|e| format!("{url}: {e}"))?;
    read_json(response).await
}

pub(super) async fn read_json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, String> {
    let url = response.url().clone();
    let status = response.status();
    if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(format!("{url}: response too large"));
    }
    let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(format!("{url}: response too large"));
    }
    if !status.is_success() {
        return Err(format!(
            "{url}: {status} {}",
            String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url}: not the expected JSON: {e}"))
}

/// The provider's discovery document; its `issuer` must be exactly the configured one.
async fn discover(policy: &FetchPolicy, issuer: &str) -> Result<Discovery, String> {
    let discovery: Discovery = get_json(policy, &format!("{issuer}/.well-known/openid-configuration")).await?;
    if discovery.issuer.trim_end_matches('/') != issuer {
        return Err(format!("the discovery document names issuer `{}`, not `{issuer}`", discovery.issuer));
    }
    Ok(discovery)
}

/// Adds a provider after checking that its discovery document answers for that issuer.
pub async fn add_provider(state: &AppState, tenant: &Tenant, source: AuditSource, new: NewProvider) -> AppResult<()> {
    if new.kind == Kind::Oidc {
        discover(&state.fetch_policy, &new.issuer)
            .await
            .map_err(|e| AppError::Invalid(format!("Cannot use this issuer: {e}")))?;
    }
    let id = Uuid::new_v4();
    let secret = state.keyring.seal(Purpose::SsoClientSecret, new.client_secret.as_bytes(), id.as_bytes())?;
    state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                repo::insert_provider(
                    conn,
                    NewProviderRow {
                        id,
                        kind: new.kind.as_str(),
                        name: &new.name,
                        issuer: &new.issuer,
                        client_id: &new.client_id,
                        secret: &secret,
                        default_role: new.default_role.as_str(),
                        allowed_domains: &new.allowed_domains,
                        role_claim: new.role_claim.as_deref(),
                        role_mapping: &new.role_mapping,
                        organization: new.organization.as_deref(),
                    },
                )
                .await?;
                let event = AuditEvent::success(AuditAction::SsoProviderAdded, new.name.clone()).severity(Severity::Warning).details(
                    json!({ "kind": new.kind.as_str(), "issuer": new.issuer, "organization": new.organization, "default_role": new.default_role.as_str(),
                            "allowed_domains": new.allowed_domains, "role_claim": new.role_claim, "role_mapping": new.role_mapping }),
                );
                record(conn, &source, event).await
            })
        })
        .await
}

pub async fn remove_provider(db: &Database, tenant: &Tenant, source: AuditSource, id: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let name = repo::delete_provider(conn, id)
                .await?
                .ok_or_else(|| AppError::NotFound("No such identity provider.".into()))?;
            record(
                conn,
                &source,
                AuditEvent::success(AuditAction::SsoProviderRemoved, name).severity(Severity::Warning),
            )
            .await
        })
    })
    .await
}

/// The tenant's providers; `base` (scheme and host) makes SAML providers' URLs absolute.
pub async fn list_providers(db: &Database, tenant: &Tenant, base: &str) -> AppResult<Vec<ProviderView>> {
    let (providers, saml) = db
        .with_tenant(tenant, |conn| {
            Box::pin(
                async move { Ok::<_, AppError>((repo::list_providers(conn).await?, repo::list_saml(conn).await?)) },
            )
        })
        .await?;
    Ok(providers
        .iter()
        .map(|provider| ProviderView {
            saml: saml
                .iter()
                .find(|s| s.provider_id == provider.id)
                .map(|s| super::saml_service::view(provider, s, base)),
            ..provider.view()
        })
        .collect())
}

pub async fn login_providers(db: &Database, tenant: &Tenant) -> AppResult<Vec<LoginProvider>> {
    let providers = db
        .with_tenant(tenant, |conn| Box::pin(async move { Ok::<_, AppError>(repo::list_providers(conn).await?) }))
        .await?;
    Ok(providers.into_iter().map(|p| LoginProvider { id: p.id, name: p.name }).collect())
}

/// A started sign-in, kept in Redis under its `state` until the provider sends the browser back.
#[derive(Serialize, Deserialize)]
struct Pending {
    tenant_id: i64,
    provider_id: Uuid,
    nonce: String,
    verifier: String,
    /// An admin's test sign-in: report what the provider sent, sign nobody in. (Default: a
    /// sign-in started before this field existed.)
    #[serde(default)]
    test: bool,
}

fn pending_key(state: &str) -> String {
    format!("sso:pending:{state}")
}

/// Keeps `value` in Redis as JSON for `seconds`, to be taken back once (a started sign-in, a
/// verified assertion on its way to its browser).
pub(super) async fn put_once<T: Serialize>(
    redis: &RedisPool,
    key: String,
    value: &T,
    seconds: i64,
) -> Result<(), String> {
    let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
    redis.set(key, json, Some(Expiration::EX(seconds)), None, false).await.map_err(|e| format!("redis: {e}"))
}

/// Takes back what `put_once` kept. GETDEL: it works once, whatever happens next.
pub(super) async fn take_once<T: DeserializeOwned>(redis: &RedisPool, key: String) -> Result<Option<T>, String> {
    let stored: Option<String> = redis.getdel(key).await.map_err(|e| format!("redis: {e}"))?;
    stored.map(|json| serde_json::from_str(&json).map_err(|_| "unreadable pending sign-in".to_owned())).transpose()
}

pub(super) async fn provider(db: &Database, tenant: &Tenant, id: Uuid) -> AppResult<repo::ProviderRow> {
    db.with_tenant(tenant, move |conn| Box::pin(async move { Ok::<_, AppError>(repo::find_provider(conn, id).await?) }))
        .await?
        .ok_or_else(|| AppError::NotFound("This sign-in option no longer exists.".into()))
}

/// Starts a sign-in (or an admin's test of the provider). `base` is this tenant's scheme and
/// host.
pub async fn begin(state: &AppState, tenant: &Tenant, provider_id: Uuid, base: &str, test: bool) -> AppResult<Started> {
    let provider = provider(&state.db, tenant, provider_id).await?;
    let (authorization_endpoint, scope) = match Kind::parse(&provider.kind)? {
        Kind::Saml => return super::saml_service::begin(state, tenant, provider, base, test).await,
        Kind::Oidc => {
            let discovery = discover(&state.fetch_policy, &provider.issuer).await.map_err(|e| {
                tracing::warn!(issuer = %provider.issuer, error = %e, "SSO discovery failed");
                AppError::Invalid(format!("{} cannot be reached right now. Try again later.", provider.name))
            })?;
            (discovery.authorization_endpoint, "openid email profile")
        }
        Kind::GitHub => (github::authorize_url(&provider.issuer), github::scopes(provider.organization.as_deref())),
    };
    let (state_token, nonce, verifier) = (oidc::random_token(), oidc::random_token(), oidc::pkce_verifier());
    let pending =
        Pending { tenant_id: tenant.id.0, provider_id, nonce: nonce.clone(), verifier: verifier.clone(), test };
    put_once(&state.redis, pending_key(&state_token), &pending, PENDING_SECONDS).await.map_err(AppError::internal)?;
    let mut url = reqwest::Url::parse(&authorization_endpoint)
        .map_err(|e| AppError::internal(format!("authorization endpoint: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", &format!("{base}{CALLBACK_PATH}"))
        .append_pair("state", &state_token)
        .append_pair("code_challenge", &oidc::pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", scope);
    // A nonce binds the ID token to this sign-in; GitHub issues none.
    if provider.kind == Kind::Oidc.as_str() {
        url.query_pairs_mut().append_pair("nonce", &nonce);
    }
    Ok(Started { url: url.to_string(), flow: state_token })
}

/// What the provider sent the browser back with.
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// The flow token this browser's session holds (`FLOW_KEY`), if any.
    pub started_here: Option<String>,
}

/// A failed sign-in: the reason is audited under `reference`, the browser sees only the
/// reference.
#[derive(Debug)]
pub struct Failure {
    pub reference: String,
    pub reason: String,
}

/// A provider's verified answer, before it becomes a member.
pub(super) struct Verified {
    pub provider: repo::ProviderRow,
    pub user: ExternalUser,
    /// Started as an admin's test: report, sign nobody in.
    pub test: bool,
}

/// How a completed round trip ends.
pub enum Completed {
    /// The member to start a session for.
    SignedIn(Uuid),
    Tested(TestReport),
}

/// An admin's test sign-in: what the provider sent and what sign-in would make of it.
pub struct TestReport {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// Every attribute a SAML assertion carried (empty for OAuth providers).
    pub attributes: Vec<(String, Vec<String>)>,
    /// The role the mapping grants for these groups, if any mapping matches.
    pub mapped_role: Option<String>,
    /// The role a new member gets when no mapping matches.
    pub default_role: String,
}

/// Completes an OpenID Connect or GitHub sign-in. Every outcome is audited.
pub async fn complete(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    callback: Callback,
    base: &str,
) -> Result<Completed, Failure> {
    let verified = finish(state, tenant, callback, &format!("{base}{CALLBACK_PATH}")).await;
    conclude(state, tenant, source, verified).await
}

/// The end of every protocol's round trip: a verified answer becomes a member (or a test
/// report); a failure gets a reference. Every outcome is audited.
pub(super) async fn conclude(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    verified: Result<Verified, String>,
) -> Result<Completed, Failure> {
    let outcome = match verified {
        Ok(Verified { provider, user, test: true }) => {
            let report = TestReport {
                provider: provider.name.clone(),
                mapped_role: mapped_role(&provider, &user.groups).map(|r| r.as_str().to_owned()),
                default_role: provider.default_role.clone(),
                subject: user.subject,
                email: user.verified_email,
                name: user.name,
                groups: user.groups,
                attributes: user.attributes,
            };
            let event = AuditEvent::success(AuditAction::SsoTestLogin, provider.name).details(
                json!({ "subject": report.subject, "email": report.email, "mapped_role": report.mapped_role }),
            );
            Ok((Completed::Tested(report), event))
        }
        Ok(Verified { provider, user, test: false }) => {
            member_for(state, tenant, &provider, user).await.map(|(user_id, email)| {
                let event =
                    AuditEvent::success(AuditAction::SsoLogin, email).details(json!({ "provider": provider.name }));
                (Completed::SignedIn(user_id), event)
            })
        }
        Err(reason) => Err(reason),
    };
    match outcome {
        Ok((completed, event)) => {
            if let Err(e) = record_alone(&state.db, tenant, source, event).await {
                tracing::error!(error = %e, "could not audit a single sign-on");
            }
            Ok(completed)
        }
        Err(reason) => Err(refuse(state, tenant, source, reason).await),
    }
}

/// A failed sign-in: audited with its reason under a new reference, which alone is shown.
pub(super) async fn refuse(state: &AppState, tenant: &Tenant, source: AuditSource, reason: String) -> Failure {
    let reference = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let event = AuditEvent::failure(AuditAction::SsoLogin, "single sign-on")
        .details(json!({ "reason": reason, "reference": reference }));
    if let Err(e) = record_alone(&state.db, tenant, source, event).await {
        tracing::error!(error = %e, "could not audit a single sign-on");
    }
    Failure { reference, reason }
}

pub(super) const STARTED_ELSEWHERE: &str = "the sign-in was started in another browser (or its session ended)";

/// The round trip's checks, in order; any failure is a reason string for the audit log.
async fn finish(state: &AppState, tenant: &Tenant, callback: Callback, redirect_uri: &str) -> Result<Verified, String> {
    if let Some(error) = callback.error {
        return Err(format!("the provider answered `{error}`"));
    }
    let state_token = callback.state.filter(|s| !s.is_empty()).ok_or("no state")?;
    let code = callback.code.filter(|c| !c.is_empty()).ok_or("no authorization code")?;
    let pending: Pending =
        take_once(&state.redis, pending_key(&state_token)).await?.ok_or("unknown or already used state")?;
    if pending.tenant_id != tenant.id.0 {
        return Err("state from another tenant".into());
    }
    if callback.started_here.as_deref() != Some(state_token.as_str()) {
        return Err(STARTED_ELSEWHERE.into());
    }
    let provider = provider(&state.db, tenant, pending.provider_id).await.map_err(|e| e.to_string())?;
    let secret = state
        .keyring
        .open(Purpose::SsoClientSecret, &provider.sealed_secret(), provider.id.as_bytes())
        .map_err(|e| e.to_string())?;
    let secret = String::from_utf8(secret).map_err(|_| "client secret is not text".to_owned())?;
    let user = match Kind::parse(&provider.kind).map_err(|e| e.to_string())? {
        Kind::Oidc => oidc_user(&state.fetch_policy, &provider, (&secret, &code), redirect_uri, &pending).await?,
        Kind::GitHub => {
            let exchange = github::Exchange {
                client_id: &provider.client_id,
                client_secret: &secret,
                code: &code,
                redirect_uri,
                verifier: &pending.verifier,
            };
            github::user(&state.fetch_policy, &provider.issuer, provider.organization.as_deref(), exchange).await?
        }
        Kind::Saml => return Err("a SAML provider answered on the OAuth callback".into()),
    };
    Ok(Verified { provider, user, test: pending.test })
}

/// OpenID Connect: the code for tokens, and the ID token verified against the provider's keys.
async fn oidc_user(
    policy: &FetchPolicy,
    provider: &repo::ProviderRow,
    (secret, code): (&str, &str),
    redirect_uri: &str,
    pending: &Pending,
) -> Result<ExternalUser, String> {
    let discovery = discover(policy, &provider.issuer).await?;
    let token_url = fetch::parse(&discovery.token_endpoint)?;
    let client = fetch::pinned_client(policy, &token_url, "Beacon SSO").await?;
    let response = client
        .post(token_url.clone())
        .basic_auth(url_encode(&provider.client_id), Some(url_encode(secret)))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pending.verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("{token_url}: {e}"))?;
    #[derive(Deserialize)]
    struct Tokens {
        id_token: String,
    }
    let tokens: Tokens = read_json(response).await.map_err(|e| format!("token request: {e}"))?;
    let keys: JwkSet = get_json(policy, &discovery.jwks_uri).await?;
    let expected = Expected { issuer: &discovery.issuer, client_id: &provider.client_id, nonce: &pending.nonce };
    let claims = oidc::verify_id_token(&tokens.id_token, &keys, &expected, chrono::Utc::now().timestamp())
        .map_err(|r| format!("ID token refused: {r}"))?;
    Ok(ExternalUser {
        groups: provider.role_claim.as_deref().map(|c| claims.values(c)).unwrap_or_default(),
        verified_email: claims.email.clone().filter(|_| claims.email_is_verified()),
        name: claims.name.clone(),
        subject: claims.sub,
        attributes: Vec::new(),
    })
}

/// The member behind verified claims: linked identity, else the verified email within this
/// tenant, else a new member with the provider's default role.
async fn member_for(
    state: &AppState,
    tenant: &Tenant,
    provider: &repo::ProviderRow,
    user: ExternalUser,
) -> Result<(Uuid, String), String> {
    let verified_email = user.verified_email.as_deref().and_then(|e| normalize_email(e).ok());
    let (tenant_id, provider_id, default_role) = (tenant.id, provider.id, provider.default_role.clone());
    let mapped_role = mapped_role(provider, &user.groups);
    let allowed = provider.allowed_domains.clone();
    let (subject, display_name) = (user.subject, user.name);
    let source = AuditSource { actor: format!("sso:{}", provider.name), ..AuditSource::default() };
    state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                let refuse = |reason: String| Ok::<_, AppError>(Err(reason));
                if let Some(user_id) = repo::linked_user(conn, provider_id, &subject).await? {
                    let Some(row) = accounts::find_by_id(conn, tenant_id, user_id).await?.filter(|r| r.is_active())
                    else {
                        return refuse("the linked member is deactivated or removed".into());
                    };
                    apply_mapped_role(conn, tenant_id, &source, &row, mapped_role).await?;
                    repo::touch(conn, provider_id, &subject).await?;
                    return Ok(Ok((user_id, row.email)));
                }
                let Some(email) = verified_email else {
                    return refuse("no verified email in the ID token, so it cannot be linked".into());
                };
                let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
                if !allowed.is_empty() && !allowed.contains(&domain) {
                    return refuse(format!("email domain `{domain}` is not allowed for this provider"));
                }
                let user_id = match accounts::find_by_email(conn, tenant_id, &email).await? {
                    Some(row) if row.is_active() => {
                        apply_mapped_role(conn, tenant_id, &source, &row, mapped_role).await?;
                        row.user_id
                    }
                    Some(_) => return refuse("the member with this email is deactivated".into()),
                    None => {
                        let role = match mapped_role {
                            Some(role) => role,
                            None => Role::parse(&default_role)?,
                        };
                        let user_id = match accounts::find_user_id(conn, &email).await? {
                            Some(id) => id,
                            None => {
                                let id = Uuid::new_v4();
                                let name = display_name.clone().unwrap_or_else(|| email.clone());
                                // No password: this account signs in through its provider.
                                accounts::insert_user(conn, id, &email, &name, None).await?;
                                id
                            }
                        };
                        accounts::insert_membership(conn, tenant_id, user_id, role).await?;
                        let event = AuditEvent::success(AuditAction::SsoProvisioned, email.clone())
                            .severity(Severity::Notice)
                            .details(json!({ "role": role.as_str() }));
                        record(conn, &source, event).await?;
                        user_id
                    }
                };
                repo::link(conn, provider_id, &subject, user_id, &email).await?;
                repo::touch(conn, provider_id, &subject).await?;
                Ok(Ok((user_id, email)))
            })
        })
        .await
        .map_err(|e| e.to_string())?
}

/// The highest role the provider's mapping grants for these groups, if any mapping matches.
fn mapped_role(provider: &repo::ProviderRow, groups: &[String]) -> Option<Role> {
    provider.role_claim.as_deref()?;
    provider
        .role_mapping()
        .into_iter()
        .filter(|m| groups.contains(&m.value))
        .filter_map(|m| Role::parse(&m.role).ok())
        .max()
}

/// Brings an existing member's role in line with the provider's mapping at sign-in. The
/// tenant's last active admin is never demoted this way.
async fn apply_mapped_role(
    conn: &mut crate::db::Connection,
    tenant_id: crate::tenancy::model::TenantId,
    source: &AuditSource,
    member: &accounts::MemberRow,
    mapped: Option<Role>,
) -> AppResult<()> {
    let current = Role::parse(&member.role)?;
    let Some(role) = mapped.filter(|r| *r != current) else { return Ok(()) };
    if current == Role::Admin {
        let admins = accounts::lock_active_admins(conn, tenant_id).await?;
        if !admins.iter().any(|id| *id != member.user_id) {
            tracing::warn!(member = %member.email, "SSO role mapping would demote the last admin; kept");
            return Ok(());
        }
    }
    accounts::update_role(conn, tenant_id, member.user_id, role).await?;
    let event = AuditEvent::success(AuditAction::UserRoleChanged, member.email.clone())
        .severity(Severity::Notice)
        .details(json!({ "from": current.as_str(), "to": role.as_str(), "by": "identity provider role mapping" }));
    record(conn, source, event).await
}

/// Turns "single sign-on required" on or off; on needs at least one provider, so nobody is
/// left without a way to sign in (admins keep their passwords either way).
pub async fn set_required(db: &Database, tenant: &Tenant, source: AuditSource, required: bool) -> AppResult<()> {
    if tenant.sso_required == required {
        return Ok(());
    }
    let (id, target) = (tenant.id, tenant.slug.to_string());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if required && repo::list_providers(conn).await?.is_empty() {
                return Err(AppError::Invalid("Add an identity provider before requiring single sign-on.".into()));
            }
            crate::tenancy::repo::set_sso_required(conn, id, required).await?;
            let event = AuditEvent::success(AuditAction::TenantSsoRequiredChanged, target)
                .severity(Severity::Warning)
                .details(json!({ "required": required }));
            record(conn, &source, event).await
        })
    })
    .await?;
    db.tenants().forget(id);
    Ok(())
}

/// HTTP Basic client credentials are form-encoded first (RFC 6749 §2.3.1).
fn url_encode(s: &str) -> String {
    crate::ui::html::percent_encode(s, b"")
}
