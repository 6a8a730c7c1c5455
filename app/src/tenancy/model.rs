use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What the browser may know about the tenant it is talking to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s {
            "active" => Ok(TenantStatus::Active),
            "suspended" => Ok(TenantStatus::Suspended),
            other => Err(AppError::invalid(format!("unknown tenant status `{other}`"))),
        }
    }
}

/// The tenant's plan; it sets the API rate-limit tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Standard,
    Enterprise,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Standard => "standard",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s {
            "standard" => Ok(Plan::Standard),
            "enterprise" => Ok(Plan::Enterprise),
            other => Err(AppError::invalid(format!("unknown plan `{other}`; use standard or enterprise"))),
        }
    }
}

/// Who must use a second factor to sign in to the tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MfaPolicy {
    Off,
    Admins,
    All,
}

impl MfaPolicy {
    pub const ALL: [MfaPolicy; 3] = [MfaPolicy::Off, MfaPolicy::Admins, MfaPolicy::All];

    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Off => "off",
            MfaPolicy::Admins => "admins",
            MfaPolicy::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MfaPolicy::Off => "Optional for everyone",
            MfaPolicy::Admins => "Required for admins",
            MfaPolicy::All => "Required for everyone",
        }
    }

    pub fn parse(s: &str) -> Result<Self, AppError> {
        MfaPolicy::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| AppError::invalid(format!("unknown MFA policy `{s}`; use off, admins or all")))
    }

    pub fn requires(self, role: crate::auth::model::Role) -> bool {
        match self {
            MfaPolicy::Off => false,
            MfaPolicy::Admins => role == crate::auth::model::Role::Admin,
            MfaPolicy::All => true,
        }
    }
}

/// Which requests an allowlist entry admits: the portal (browser sessions), the API (keys
/// and tokens), or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowFor {
    Portal,
    Api,
    Both,
}

impl AllowFor {
    pub const ALL: [AllowFor; 3] = [AllowFor::Both, AllowFor::Portal, AllowFor::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            AllowFor::Portal => "portal",
            AllowFor::Api => "api",
            AllowFor::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Result<Self, AppError> {
        AllowFor::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| AppError::invalid(format!("`{s}` must be portal, api or both")))
    }

    pub fn covers(self, channel: AllowFor) -> bool {
        self == AllowFor::Both || self == channel
    }
}

/// One entry of a tenant's IP allowlist. With no entry for a channel, every address may use
/// it; with at least one, only the listed networks may.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowRule {
    /// A network in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`), normalised.
    pub cidr: String,
    pub applies_to: AllowFor,
    pub note: String,
}

/// A tenant slug: the first label of the tenant's host name (`acme` in `acme.example.com`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let valid = (2..=63).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.ends_with('-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AppError::invalid(format!(
                "`{raw}` is not a valid tenant slug: use 2-63 lowercase letters, digits or dashes, starting with a letter"
            )))
        }
    }

    /// The slug named by a `Host` header under `base_domain`, if any: `acme.localhost:3000`
    /// gives `acme` for base domain `localhost`. Hosts outside the base domain, the bare base
    /// domain and nested subdomains name no tenant.
    pub fn from_host(host: &str, base_domain: &str) -> Option<Self> {
        let host =
            host.rsplit_once(':').map_or(
                host,
                |(name, port)| {
                    if port.chars().all(|c| c.is_ascii_digit()) {
                        name
                    } else {
                        host
                    }
                },
            );
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let label = host.strip_suffix(base_domain)?.strip_suffix('.')?;
        if label.contains('.') {
            return None;
        }
        Self::parse(label).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantId(pub i64);

/// The PostgreSQL schema holding one tenant's data. Only ever derived from the tenant id,
/// so it can be quoted into SQL without coming from user input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn for_tenant(id: TenantId) -> Self {
        Self(format!("tenant_{}", id.0))
    }

    /// Accepts a stored schema name only if it has the exact shape `for_tenant` produces.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match raw.strip_prefix("tenant_") {
            Some(digits) if !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Self(raw.to_owned()))
            }
            _ => Err(AppError::invalid(format!("`{raw}` is not a tenant schema name"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant as the server knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub schema: SchemaName,
    pub status: TenantStatus,
    pub plan: Plan,
    pub mfa_policy: MfaPolicy,
    pub allowlist: Vec<AllowRule>,
    /// Members other than admins sign in through single sign-on only.
    pub sso_required: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Tenant {
    pub fn summary(&self) -> TenantSummary {
        TenantSummary { slug: self.slug.to_string(), name: self.name.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_comes_from_the_first_label_under_the_base_domain() {
        let slug = |h| TenantSlug::from_host(h, "localhost").map(|s| s.to_string());
        assert_eq!(slug("acme.localhost:3000").as_deref(), Some("acme"));
        assert_eq!(slug("ACME.localhost").as_deref(), Some("acme"));
        assert_eq!(slug("acme.localhost.").as_deref(), Some("acme"));
        assert_eq!(slug("localhost:3000"), None);
        assert_eq!(slug("a.b.localhost"), None);
        assert_eq!(slug("acme.example.com"), None);
        assert_eq!(slug("evil-localhost"), None);
        assert_eq!(slug("_x.localhost"), None);
    }

    #[test]
    fn schema_names_only_take_the_tenant_id_shape() {
        assert_eq!(SchemaName::for_tenant(TenantId(7)).as_str(), "tenant_7");
        assert!(SchemaName::parse("tenant_42").is_ok());
        for bad in ["tenant_", "tenant_1; DROP", "public", "tenant_1\"", "Tenant_1"] {
            assert!(SchemaName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_follow_dns_label_rules() {
        assert!(TenantSlug::parse("acme-corp2").is_ok());
        for bad in ["a", "1acme", "acme-", "Acme", "ac_me", ""] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
