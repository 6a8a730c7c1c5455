//! SAML 2.0 use cases: adding an IdP (its metadata or its fields, and a key pair of our own for
//! signing requests), the SP-initiated round trip (signed HTTP-Redirect AuthnRequest, its id kept
//! in Redis under the RelayState because the session cookie does not come back on the IdP's
//! cross-site POST), and the assertion consumer: verify, refuse replays, map attributes, and hand
//! the person to the sign-in every protocol shares (`sign_in::conclude`).

use crate::audit::model::AuditAction;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;
use tower_sessions_redis_store::fred::types::{Expiration, SetOptions};
use uuid::Uuid;

use super::model::AttributePreset;
use super::paths;
use super::providers::{self, Kind, RoleMappingInput};
use super::repo::{self, NewProviderRow, ProviderRow, SamlRow};
use super::saml::{self, IdpSettings, Solicitation, SpSettings, VerifiedAssertion};
use super::sign_in::{self, Completed, ExternalUser, Failure, Started, Verified};
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::{normalize_email, Role};
use crate::error::{AppError, AppResult};
use crate::keyring::Purpose;
use crate::state::AppState;
use crate::tenancy::model::Tenant;

/// How long a verified assertion waits for its browser to come back (one redirect).
const VERIFIED_SECONDS: i64 = 60;
/// A replayed assertion is refused for at least this long, even if it claims to expire sooner.
const MIN_REPLAY_SECONDS: i64 = 60;

/// Settings → Single sign-on → Add SAML provider, as typed.
pub struct SamlInput {
    pub name: String,
    /// IdP metadata XML; when empty, the three fields below describe the IdP.
    pub metadata: String,
    pub entity_id: String,
    pub sso_url: String,
    pub certificate: String,
    pub preset: String,
    /// Attribute names; an empty one takes the preset's.
    pub email_attribute: String,
    pub first_name_attribute: String,
    pub last_name_attribute: String,
    pub groups_attribute: String,
    pub role_mapping: String,
    pub default_role: String,
    pub allowed_domains: String,
    pub allow_sha1: bool,
    pub allow_idp_initiated: bool,
    pub clock_skew_seconds: String,
}

/// A checked SAML provider, ready to store.
pub struct NewSamlProvider {
    name: String,
    idp: IdpSettings,
    preset: &'static str,
    email_attribute: Option<String>,
    first_name_attribute: Option<String>,
    last_name_attribute: Option<String>,
    groups_attribute: Option<String>,
    role_mapping: Vec<super::model::RoleMapping>,
    default_role: Role,
    allowed_domains: Vec<String>,
    allow_sha1: bool,
    allow_idp_initiated: bool,
    clock_skew_seconds: i32,
}

impl SamlInput {
    pub fn parse(self) -> AppResult<NewSamlProvider> {
        let name = providers::parse_name(&self.name)?;
        let idp = if self.metadata.trim().is_empty() {
            IdpSettings::from_fields(&self.entity_id, &self.sso_url, &self.certificate)
        } else {
            IdpSettings::from_metadata(&self.metadata)
        }
        .map_err(|e| AppError::invalid(format!("Cannot use this identity provider: {e}")))?;
        let preset = AttributePreset::find(&self.preset)
            .ok_or_else(|| AppError::invalid(format!("`{}` is not an attribute preset", self.preset)))?;
        let attribute = |typed: &str, preset: &str| -> AppResult<Option<String>> {
            let name = if typed.trim().is_empty() { preset } else { typed.trim() };
            if name.len() > 255 {
                return Err(AppError::invalid("Attribute names are at most 255 characters."));
            }
            Ok((!name.is_empty()).then(|| name.to_owned()))
        };
        // The mapping is optional: a groups attribute only the preset named maps nothing
        // without lines; one the admin typed needs them, as an OIDC role claim does.
        let groups_attribute = match (self.groups_attribute.trim(), self.role_mapping.trim()) {
            ("", "") => None,
            (typed, _) => attribute(typed, preset.groups)?,
        };
        let mapping = RoleMappingInput { claim: groups_attribute.as_deref().unwrap_or(""), lines: &self.role_mapping };
        let (groups_attribute, role_mapping) = mapping.parse()?;
        let clock_skew_seconds = match self.clock_skew_seconds.trim() {
            "" => 60,
            raw => raw
                .parse()
                .ok()
                .filter(|s| (0..=300).contains(s))
                .ok_or_else(|| AppError::invalid("Clock skew is 0 to 300 seconds."))?,
        };
        Ok(NewSamlProvider {
            name,
            idp,
            preset: preset.key,
            email_attribute: attribute(&self.email_attribute, preset.email)?,
            first_name_attribute: attribute(&self.first_name_attribute, preset.first_name)?,
            last_name_attribute: attribute(&self.last_name_attribute, preset.last_name)?,
            groups_attribute,
            role_mapping,
            default_role: providers::parse_default_role(&self.default_role)?,
            allowed_domains: providers::parse_domains(&self.allowed_domains)?,
            allow_sha1: self.allow_sha1,
            allow_idp_initiated: self.allow_idp_initiated,
            clock_skew_seconds,
        })
    }
}

/// Stores a SAML provider with a new SP key pair (the private key sealed at rest); returns its
/// id. `base` is the tenant's scheme and host: our entity id is the URL of our metadata.
pub async fn add_provider(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    new: NewSamlProvider,
    base: &str,
) -> AppResult<Uuid> {
    let id = Uuid::new_v4();
    let sp_entity_id = format!("{base}{}", paths::saml_metadata(id));
    let keys = tokio::task::spawn_blocking(saml::new_sp_keys)
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let sealed_key = state.keyring.seal(Purpose::SsoClientSecret, &keys.private_key, id.as_bytes())?;
    let fingerprints: Vec<String> = new.idp.certificates.iter().map(|der| saml::describe_certificate(der).0).collect();
    state
        .db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                repo::insert_provider(
                    conn,
                    NewProviderRow {
                        id,
                        kind: Kind::Saml.as_str(),
                        name: &new.name,
                        issuer: &new.idp.entity_id,
                        client_id: &sp_entity_id,
                        secret: &sealed_key,
                        default_role: new.default_role.as_str(),
                        allowed_domains: &new.allowed_domains,
                        role_claim: new.groups_attribute.as_deref(),
                        role_mapping: &new.role_mapping,
                        organization: None,
                    },
                )
                .await?;
                let row = SamlRow {
                    provider_id: id,
                    sso_url: new.idp.sso_url.clone(),
                    signing_certificates: new.idp.certificates.clone(),
                    sp_certificate: keys.certificate,
                    preset: new.preset.to_owned(),
                    email_attribute: new.email_attribute.clone(),
                    first_name_attribute: new.first_name_attribute,
                    last_name_attribute: new.last_name_attribute,
                    allow_sha1: new.allow_sha1,
                    allow_idp_initiated: new.allow_idp_initiated,
                    clock_skew_seconds: new.clock_skew_seconds,
                };
                repo::insert_saml(conn, &row).await?;
                let event = AuditEvent::success(AuditAction::SsoProviderAdded, new.name.clone()).details(
                    json!({ "kind": "saml", "issuer": new.idp.entity_id, "sso_url": new.idp.sso_url,
                            "certificates": fingerprints, "email_attribute": new.email_attribute,
                            "default_role": new.default_role.as_str(), "allowed_domains": new.allowed_domains,
                            "role_claim": new.groups_attribute, "role_mapping": new.role_mapping,
                            "allow_sha1": new.allow_sha1, "allow_idp_initiated": new.allow_idp_initiated,
                            "clock_skew_seconds": new.clock_skew_seconds }),
                );
                record(conn, &source, event).await
            })
        })
        .await?;
    Ok(id)
}

fn not_saml() -> AppError {
    AppError::not_found("This sign-in option is not a SAML provider.")
}

/// A SAML provider with its own settings.
struct Provider {
    common: ProviderRow,
    saml: SamlRow,
}

impl Provider {
    /// The provider and its SAML settings, read together.
    async fn load(state: &AppState, tenant: &Tenant, id: Uuid) -> AppResult<Self> {
        let (common, saml) = state
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    Ok::<_, AppError>((repo::find_provider(conn, id).await?, repo::find_saml(conn, id).await?))
                })
            })
            .await?;
        let common = common.ok_or_else(|| AppError::not_found("This sign-in option no longer exists."))?;
        Ok(Self { saml: saml.ok_or_else(not_saml)?, common })
    }

    /// The SAML settings of a provider already read.
    async fn of(state: &AppState, tenant: &Tenant, common: ProviderRow) -> AppResult<Self> {
        let id = common.id;
        let saml = state
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { Ok::<_, AppError>(repo::find_saml(conn, id).await?) })
            })
            .await?;
        Ok(Self { saml: saml.ok_or_else(not_saml)?, common })
    }

    fn idp(&self) -> IdpSettings {
        IdpSettings {
            entity_id: self.common.issuer.clone(),
            sso_url: self.saml.sso_url.clone(),
            certificates: self.saml.signing_certificates.clone(),
        }
    }

    fn sp<'a>(&'a self, idp: &'a IdpSettings, acs_url: &'a str) -> SpSettings<'a> {
        SpSettings {
            entity_id: &self.common.client_id,
            acs_url,
            idp,
            allow_sha1: self.saml.allow_sha1,
            clock_skew_seconds: self.saml.clock_skew_seconds.into(),
        }
    }
}

/// Our SP metadata for one provider (public: IdPs fetch it).
pub async fn metadata(state: &AppState, tenant: &Tenant, id: Uuid, base: &str) -> AppResult<String> {
    let provider = Provider::load(state, tenant, id).await?;
    let (idp, acs_url) = (provider.idp(), format!("{base}{}", paths::saml_acs(id)));
    Ok(provider.sp(&idp, &acs_url).metadata(&provider.saml.sp_certificate))
}

/// A started SP-initiated sign-in, kept in Redis under its RelayState.
#[derive(Serialize, Deserialize)]
struct Pending {
    tenant_id: i64,
    provider_id: Uuid,
    request_id: String,
    test: bool,
}

fn pending_key(relay_state: &str) -> String {
    format!("sso:saml:pending:{relay_state}")
}

/// Starts a sign-in: returns the IdP URL carrying our signed AuthnRequest.
pub async fn begin(
    state: &AppState,
    tenant: &Tenant,
    provider: ProviderRow,
    base: &str,
    test: bool,
) -> AppResult<Started> {
    let provider = Provider::of(state, tenant, provider).await?;
    let key = state.keyring.open(
        Purpose::SsoClientSecret,
        &provider.common.sealed_secret(),
        provider.common.id.as_bytes(),
    )?;
    let (idp, acs_url) = (provider.idp(), format!("{base}{}", paths::saml_acs(provider.common.id)));
    let relay_state = super::oidc::random_token();
    let (request_id, url) =
        provider.sp(&idp, &acs_url).authn_request(&key, &relay_state).map_err(AppError::internal)?;
    let pending = Pending { tenant_id: tenant.id.0, provider_id: provider.common.id, request_id, test };
    sign_in::put_once(&state.redis, pending_key(&relay_state), &pending, sign_in::PENDING_SECONDS)
        .await
        .map_err(AppError::internal)?;
    Ok(Started { url, flow: relay_state })
}

/// What the IdP posted to our assertion consumer service.
pub struct Posted {
    pub saml_response: Option<String>,
    pub relay_state: Option<String>,
}

/// A verified assertion waiting for the browser that started its sign-in.
#[derive(Serialize, Deserialize)]
struct Accepted {
    tenant_id: i64,
    provider_id: Uuid,
    /// The RelayState of our request; `None` for an IdP-initiated sign-in.
    relay_state: Option<String>,
    test: bool,
    user: ExternalUser,
}

fn accepted_key(token: &str) -> String {
    format!("sso:saml:accepted:{token}")
}

/// The assertion consumer service: verifies the posted response and returns where to send the
/// browser to finish (a one-time token, 60 s). Failures are audited.
pub async fn accept(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    provider_id: Uuid,
    posted: Posted,
    base: &str,
) -> Result<String, Failure> {
    let refuse = |reason: String| sign_in::refuse(state, tenant, source.clone(), format!("SAML: {reason}"));
    let (relay_state, verified) = match verify(state, tenant, provider_id, posted, base).await {
        Ok(accepted) => accepted,
        Err(reason) => return Err(refuse(reason).await),
    };
    let token = super::oidc::random_token();
    let accepted =
        Accepted { tenant_id: tenant.id.0, provider_id, relay_state, test: verified.test, user: verified.user };
    match sign_in::put_once(&state.redis, accepted_key(&token), &accepted, VERIFIED_SECONDS).await {
        Ok(()) => Ok(format!("{}?token={token}", paths::saml_finish(provider_id))),
        Err(reason) => Err(refuse(reason).await),
    }
}

/// Ends a SAML sign-in in the browser that started it (`started_here`: the flow token in its
/// session); IdP-initiated sign-ins, which no browser started, end in any. Audited.
pub async fn finish(
    state: &AppState,
    tenant: &Tenant,
    source: AuditSource,
    provider_id: Uuid,
    token: &str,
    started_here: Option<String>,
) -> Result<Completed, Failure> {
    let verified = async {
        let accepted: Accepted = sign_in::take_once(&state.redis, accepted_key(token))
            .await?
            .ok_or("SAML: unknown or already used finish token")?;
        if accepted.tenant_id != tenant.id.0 || accepted.provider_id != provider_id {
            return Err("SAML: finish token of another tenant or provider".to_owned());
        }
        if accepted.relay_state.is_some() && accepted.relay_state != started_here {
            return Err(format!("SAML: {}", sign_in::STARTED_ELSEWHERE));
        }
        let provider = providers::provider(&state.db, tenant, provider_id).await.map_err(|e| e.to_string())?;
        Ok(Verified { provider, user: accepted.user, test: accepted.test })
    }
    .await;
    sign_in::conclude(state, tenant, source, verified).await
}

async fn verify(
    state: &AppState,
    tenant: &Tenant,
    provider_id: Uuid,
    posted: Posted,
    base: &str,
) -> Result<(Option<String>, Verified), String> {
    let response = posted.saml_response.filter(|r| !r.is_empty()).ok_or("no SAMLResponse")?;
    let provider = Provider::load(state, tenant, provider_id).await.map_err(|e| e.to_string())?;
    // A RelayState answers once, whatever happens next.
    let posted_relay = posted.relay_state.filter(|r| !r.is_empty());
    let pending: Option<Pending> = match &posted_relay {
        Some(relay) => sign_in::take_once(&state.redis, pending_key(relay)).await?,
        None => None,
    };
    let relay_state = pending.as_ref().and(posted_relay);
    let (request_id, test) = match pending {
        Some(p) if p.tenant_id != tenant.id.0 || p.provider_id != provider_id => {
            return Err("the RelayState belongs to another tenant or provider".into())
        }
        Some(p) => (Some(p.request_id), p.test),
        // IdPs may send their own RelayState (a target page) with unsolicited responses.
        None if provider.saml.allow_idp_initiated => (None, false),
        None => return Err("unknown or already used RelayState, and IdP-initiated sign-in is off".into()),
    };
    let acs_url = format!("{base}{}", paths::saml_acs(provider_id));
    // xmlsec is synchronous and serialised: keep it off the async workers.
    let (provider, assertion) = tokio::task::spawn_blocking(move || {
        let idp = provider.idp();
        let solicitation = request_id.as_deref().map_or(Solicitation::Unsolicited, Solicitation::Request);
        let assertion = provider.sp(&idp, &acs_url).verify(&response, solicitation);
        (provider, assertion)
    })
    .await
    .map_err(|e| format!("verification task: {e}"))?;
    let assertion = assertion?;
    refuse_replay(state, tenant, provider_id, &assertion).await?;
    let user = external_user(&provider, assertion)?;
    Ok((relay_state, Verified { provider: provider.common, user, test }))
}

/// Remembers the assertion id until the assertion expires; a second use is a replay.
async fn refuse_replay(
    state: &AppState,
    tenant: &Tenant,
    provider: Uuid,
    assertion: &VerifiedAssertion,
) -> Result<(), String> {
    let key = format!("sso:saml:assertion:{}:{provider}:{}", tenant.id.0, assertion.id);
    let seconds = (assertion.valid_until - chrono::Utc::now()).num_seconds().max(MIN_REPLAY_SECONDS);
    let fresh: Option<String> = state
        .redis
        .set(key, "1", Some(Expiration::EX(seconds)), Some(SetOptions::NX), false)
        .await
        .map_err(|e| format!("redis: {e}"))?;
    match fresh {
        Some(_) => Ok(()),
        None => Err(format!("assertion {} was already used (replay)", assertion.id)),
    }
}

/// The person the verified assertion names, read through the provider's attribute mapping.
fn external_user(provider: &Provider, assertion: VerifiedAssertion) -> Result<ExternalUser, String> {
    let email = match &provider.saml.email_attribute {
        Some(attribute) => {
            assertion.first(attribute).ok_or_else(|| format!("the assertion has no `{attribute}` attribute"))?
        }
        None if assertion.transient => return Err("the NameID is transient and no email attribute is mapped".into()),
        None => assertion.name_id.clone(),
    };
    let email = normalize_email(&email).map_err(|_| format!("`{email}` is not an email address"))?;
    let name = [&provider.saml.first_name_attribute, &provider.saml.last_name_attribute]
        .into_iter()
        .filter_map(|a| a.as_deref().and_then(|a| assertion.first(a)))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(ExternalUser {
        // A transient NameID changes at every sign-in: the email identifies the person instead.
        subject: if assertion.transient { email.clone() } else { assertion.name_id.clone() },
        // The IdP is the tenant's authority on its people's addresses.
        verified_email: Some(email),
        name: (!name.is_empty()).then_some(name),
        groups: provider.common.role_claim.as_deref().map(|c| assertion.values(c)).unwrap_or_default(),
        attributes: assertion.attributes,
    })
}
