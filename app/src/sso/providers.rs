//! A tenant's identity providers (Settings → Single sign-on): the "add provider" form of
//! OpenID Connect and GitHub providers, the checks every provider form shares (name, default
//! role, email domains, role mapping), and adding, listing and removing providers.

use crate::audit::model::AuditAction;
use serde_json::json;
use uuid::Uuid;

use super::model::{CertificateView, LoginProvider, ProviderForm, ProviderView, RoleMapping, SamlView};
use super::repo::{self, NewProviderRow, ProviderRow, SamlRow};
use super::{http, paths, saml};
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::Role;
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::fetch;
use crate::keyring::Purpose;
use crate::state::AppState;
use crate::tenancy::model::Tenant;

/// The kinds of provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub enum Kind {
    Oidc,
    GitHub,
    Saml,
}

crate::db::text_enum_column!(Kind);

impl Kind {
    pub fn parse(raw: &str) -> AppResult<Self> {
        match raw {
            "oidc" => Ok(Kind::Oidc),
            "github" => Ok(Kind::GitHub),
            "saml" => Ok(Kind::Saml),
            other => Err(AppError::invalid(format!("`{other}` is not a kind of provider; use oidc, github or saml"))),
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
    pub fn parse(&self) -> AppResult<(Option<String>, Vec<RoleMapping>)> {
        let claim = self.claim.trim();
        let mappings = self
            .lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| {
                let (value, role) = line
                    .split_once('=')
                    .ok_or_else(|| AppError::invalid(format!("`{line}`: write each mapping as `group = role`")))?;
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
    pub fn parse(form: ProviderForm) -> AppResult<Self> {
        let name = parse_name(&form.name)?;
        let kind = Kind::parse(&form.kind)?;
        if kind == Kind::Saml {
            return Err(AppError::invalid("SAML providers are added with their own form."));
        }
        let issuer = match (kind, form.issuer.trim()) {
            (Kind::GitHub, "") => "https://github.com",
            (_, issuer) => issuer,
        };
        let issuer = fetch::parse(issuer).map_err(AppError::Invalid)?.to_string().trim_end_matches('/').to_owned();
        let organization = Some(form.organization.trim()).filter(|o| !o.is_empty()).map(str::to_owned);
        if organization.is_some() && kind != Kind::GitHub {
            return Err(AppError::invalid("An organisation restriction is for GitHub providers."));
        }
        let (client_id, client_secret) = (form.client_id.trim(), form.client_secret.trim());
        if client_id.is_empty() || client_secret.is_empty() || client_id.len() > 255 || client_secret.len() > 1024 {
            return Err(AppError::invalid("The client id and client secret from the provider are required."));
        }
        let default_role = parse_default_role(&form.default_role)?;
        let allowed_domains = parse_domains(&form.allowed_domains)?;
        let mapping = RoleMappingInput { claim: &form.role_claim, lines: &form.role_mapping };
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

pub fn parse_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AppError::invalid("Give the provider a name of 1 to 60 characters."));
    }
    Ok(name.to_owned())
}

pub fn parse_default_role(role: &str) -> AppResult<Role> {
    let role = Role::parse(role)?;
    if role == Role::Admin {
        return Err(AppError::invalid("New members from single sign-on cannot start as admins."));
    }
    Ok(role)
}

/// "Allowed email domains": separated by commas, spaces or lines; `@` optional.
pub fn parse_domains(domains: &str) -> AppResult<Vec<String>> {
    domains
        .split([',', ' ', '\n'])
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| {
            if d.contains('.') && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                Ok(d)
            } else {
                Err(AppError::invalid(format!("`{d}` is not an email domain")))
            }
        })
        .collect()
}

/// Adds a provider after checking that its discovery document answers for that issuer.
pub async fn add_provider(state: &AppState, tenant: &Tenant, source: AuditSource, new: NewProvider) -> AppResult<()> {
    if new.kind == Kind::Oidc {
        http::discover(&state.fetch_policy, &new.issuer)
            .await
            .map_err(|e| AppError::invalid(format!("Cannot use this issuer: {e}")))?;
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
                let event = AuditEvent::success(AuditAction::SsoProviderAdded, new.name.clone()).details(
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
                .ok_or_else(|| AppError::not_found("No such identity provider."))?;
            record(conn, &source, AuditEvent::success(AuditAction::SsoProviderRemoved, name)).await
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
            saml: saml.iter().find(|s| s.provider_id == provider.id).map(|s| saml_view(provider, s, base)),
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

pub async fn provider(db: &Database, tenant: &Tenant, id: Uuid) -> AppResult<ProviderRow> {
    db.with_tenant(tenant, move |conn| Box::pin(async move { Ok::<_, AppError>(repo::find_provider(conn, id).await?) }))
        .await?
        .ok_or_else(|| AppError::not_found("This sign-in option no longer exists."))
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
                return Err(AppError::invalid("Add an identity provider before requiring single sign-on."));
            }
            crate::tenancy::repo::set_sso_required(conn, id, required).await?;
            let event = AuditEvent::success(AuditAction::TenantSsoRequiredChanged, target)
                .details(json!({ "required": required }));
            record(conn, &source, event).await
        })
    })
    .await?;
    db.tenants().forget(id);
    Ok(())
}

/// What Settings shows of a SAML provider.
fn saml_view(provider: &ProviderRow, row: &SamlRow, base: &str) -> SamlView {
    SamlView {
        sp_entity_id: provider.client_id.clone(),
        acs_url: format!("{base}{}", paths::saml_acs(provider.id)),
        metadata_url: format!("{base}{}", paths::saml_metadata(provider.id)),
        sso_url: row.sso_url.clone(),
        preset: row.preset.clone(),
        email_attribute: row.email_attribute.clone(),
        first_name_attribute: row.first_name_attribute.clone(),
        last_name_attribute: row.last_name_attribute.clone(),
        certificates: row
            .signing_certificates
            .iter()
            .map(|der| {
                let (fingerprint, expires) = saml::describe_certificate(der);
                CertificateView { fingerprint, expires }
            })
            .collect(),
        allow_sha1: row.allow_sha1,
        allow_idp_initiated: row.allow_idp_initiated,
        clock_skew_seconds: row.clock_skew_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(kind: &str) -> ProviderForm {
        ProviderForm {
            kind: kind.into(),
            name: " Acme login ".into(),
            issuer: "https://login.acme.example/".into(),
            client_id: "beacon".into(),
            client_secret: "s3cret".into(),
            default_role: "viewer".into(),
            ..ProviderForm::default()
        }
    }

    #[test]
    fn the_add_provider_form_is_checked_as_one() {
        let oidc = NewProvider::parse(form("oidc")).unwrap();
        assert_eq!(
            (oidc.kind, oidc.name.as_str(), oidc.issuer.as_str()),
            (Kind::Oidc, "Acme login", "https://login.acme.example")
        );
        assert_eq!((oidc.role_claim, oidc.role_mapping), (None, vec![]));

        let github = NewProvider::parse(ProviderForm {
            issuer: String::new(),
            organization: "acme".into(),
            allowed_domains: "@acme.example, acme.test".into(),
            role_claim: "groups".into(),
            role_mapping: "admins = admin\n".into(),
            ..form("github")
        })
        .unwrap();
        assert_eq!(github.issuer, "https://github.com", "blank means github.com");
        assert_eq!(github.organization.as_deref(), Some("acme"));
        assert_eq!(github.allowed_domains, ["acme.example", "acme.test"]);
        assert_eq!(github.role_mapping, [RoleMapping { value: "admins".into(), role: "admin".into() }]);

        let refused = [
            ProviderForm { organization: "acme".into(), ..form("oidc") },
            ProviderForm { client_secret: " ".into(), ..form("oidc") },
            ProviderForm { default_role: "admin".into(), ..form("oidc") },
            ProviderForm { role_claim: "groups".into(), ..form("oidc") },
            form("saml"),
            form("ldap"),
        ];
        for bad in refused {
            assert!(NewProvider::parse(bad.clone()).is_err(), "{bad:?}");
        }
    }
}
