//! The OpenID Connect and GitHub sign-in round trip: authorization code with PKCE, `state`
//! kept server-side in Redis (single use, ten minutes) and bound to the browser's session,
//! `nonce` bound to the ID token; the verified person goes on to the shared sign-in
//! (`sign_in::conclude`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::github;
use super::http;
use super::oidc::{self, Expected, JwkSet};
use super::paths;
use super::providers::{self, Kind};
use super::repo::ProviderRow;
use super::sign_in::{self, Completed, ExternalUser, Failure, Started, Verified};
use crate::audit::service::AuditSource;
use crate::error::{AppError, AppResult};
use crate::fetch::{self, FetchPolicy};
use crate::keyring::Purpose;
use crate::state::AppState;
use crate::tenancy::model::Tenant;

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

/// Starts a sign-in with an OpenID Connect or GitHub provider (or an admin's test of it).
/// `base` is this tenant's scheme and host.
pub async fn begin(
    state: &AppState,
    tenant: &Tenant,
    provider: ProviderRow,
    base: &str,
    test: bool,
) -> AppResult<Started> {
    let provider_id = provider.id;
    let (authorization_endpoint, scope) = match provider.kind {
        Kind::Saml => return Err(AppError::internal("a SAML provider started an OAuth sign-in")),
        Kind::Oidc => {
            let discovery = http::discover(&state.fetch_policy, &provider.issuer).await.map_err(|e| {
                tracing::warn!(issuer = %provider.issuer, error = %e, "SSO discovery failed");
                AppError::invalid(format!("{} cannot be reached right now. Try again later.", provider.name))
            })?;
            (discovery.authorization_endpoint, "openid email profile")
        }
        Kind::GitHub => (github::authorize_url(&provider.issuer), github::scopes(provider.organization.as_deref())),
    };
    let (state_token, nonce, verifier) = (oidc::random_token(), oidc::random_token(), oidc::pkce_verifier());
    let pending =
        Pending { tenant_id: tenant.id.0, provider_id, nonce: nonce.clone(), verifier: verifier.clone(), test };
    sign_in::put_once(&state.redis, pending_key(&state_token), &pending, sign_in::PENDING_SECONDS)
        .await
        .map_err(AppError::internal)?;
    let mut url = reqwest::Url::parse(&authorization_endpoint)
        .map_err(|e| AppError::internal(format!("authorization endpoint: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", &format!("{base}{}", paths::CALLBACK))
        .append_pair("state", &state_token)
        .append_pair("code_challenge", &oidc::pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", scope);
    // A nonce binds the ID token to this sign-in; GitHub issues none.
    if provider.kind == Kind::Oidc {
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

/// Completes an OpenID Connect or GitHub sign-in. Every outcome is audited.
pub async fn complete(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    callback: Callback,
    base: &str,
) -> Result<Completed, Failure> {
    let verified = finish(state, tenant, callback, &format!("{base}{}", paths::CALLBACK)).await;
    sign_in::conclude(state, tenant, source, verified).await
}

/// The round trip's checks, in order; any failure is a reason string for the audit log.
async fn finish(state: &AppState, tenant: &Tenant, callback: Callback, redirect_uri: &str) -> Result<Verified, String> {
    if let Some(error) = callback.error {
        return Err(format!("the provider answered `{error}`"));
    }
    let state_token = callback.state.filter(|s| !s.is_empty()).ok_or("no state")?;
    let code = callback.code.filter(|c| !c.is_empty()).ok_or("no authorization code")?;
    let pending: Pending =
        sign_in::take_once(&state.redis, pending_key(&state_token)).await?.ok_or("unknown or already used state")?;
    if pending.tenant_id != tenant.id.0 {
        return Err("state from another tenant".into());
    }
    if callback.started_here.as_deref() != Some(state_token.as_str()) {
        return Err(sign_in::STARTED_ELSEWHERE.into());
    }
    let provider = providers::provider(&state.db, tenant, pending.provider_id).await.map_err(|e| e.to_string())?;
    let secret = state
        .keyring
        .open(Purpose::SsoClientSecret, &provider.sealed_secret(), provider.id.as_bytes())
        .map_err(|e| e.to_string())?;
    let secret = String::from_utf8(secret).map_err(|_| "client secret is not text".to_owned())?;
    let user = match provider.kind {
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
    provider: &ProviderRow,
    (secret, code): (&str, &str),
    redirect_uri: &str,
    pending: &Pending,
) -> Result<ExternalUser, String> {
    let discovery = http::discover(policy, &provider.issuer).await?;
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
    let tokens: Tokens = http::read_json(response).await.map_err(|e| format!("token request: {e}"))?;
    let keys: JwkSet = http::get_json(policy, &discovery.jwks_uri).await?;
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

/// HTTP Basic client credentials are form-encoded first (RFC 6749 §2.3.1).
fn url_encode(s: &str) -> String {
    crate::escape::percent(s, b"")
}
