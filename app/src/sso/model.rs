use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A provider as Settings → Single sign-on lists it (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    pub id: Uuid,
    /// `oidc` or `github`.
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub default_role: String,
    pub allowed_domains: Vec<String>,
    /// The claim whose values map to roles at every sign-in, if any.
    pub role_claim: Option<String>,
    pub role_mapping: Vec<RoleMapping>,
    /// GitHub: only members of this organisation may sign in.
    pub organization: Option<String>,
    /// SAML providers' own settings.
    pub saml: Option<SamlView>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A SAML provider as the admin needs to see it: what to give the IdP (our entity id, ACS URL,
/// metadata) and what we trust of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlView {
    pub sp_entity_id: String,
    pub acs_url: String,
    pub metadata_url: String,
    pub sso_url: String,
    pub preset: String,
    /// `None`: the NameID is the email.
    pub email_attribute: Option<String>,
    pub first_name_attribute: Option<String>,
    pub last_name_attribute: Option<String>,
    pub certificates: Vec<CertificateView>,
    pub allow_sha1: bool,
    pub allow_idp_initiated: bool,
    pub clock_skew_seconds: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    /// SHA-256, colon-separated hex, as IdP consoles show it.
    pub fingerprint: String,
    pub expires: String,
}

/// The attribute names an IdP product sends by default, offered as presets when adding a SAML
/// provider; each can be overridden. An empty email attribute means the NameID is the email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributePreset {
    pub key: &'static str,
    pub label: &'static str,
    pub email: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub groups: &'static str,
}

pub const ATTRIBUTE_PRESETS: [AttributePreset; 6] = [
    AttributePreset {
        key: "okta",
        label: "Okta",
        email: "email",
        first_name: "firstName",
        last_name: "lastName",
        groups: "groups",
    },
    AttributePreset {
        key: "entra",
        label: "Microsoft Entra ID (Azure AD)",
        email: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        first_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        last_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        groups: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    },
    AttributePreset {
        key: "google",
        label: "Google Workspace",
        email: "",
        first_name: "firstName",
        last_name: "lastName",
        groups: "groups",
    },
    AttributePreset {
        key: "onelogin",
        label: "OneLogin",
        email: "User.email",
        first_name: "User.FirstName",
        last_name: "User.LastName",
        groups: "memberOf",
    },
    AttributePreset {
        key: "auth0",
        label: "Auth0",
        email: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        first_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        last_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        groups: "http://schemas.xmlsoap.org/claims/Group",
    },
    AttributePreset {
        key: "custom",
        label: "Other (NameID is the email)",
        email: "",
        first_name: "",
        last_name: "",
        groups: "",
    },
];

/// The "add provider" form of OpenID Connect and GitHub providers, as typed; checked by
/// `providers::NewProvider::parse`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderForm {
    /// `oidc` or `github`.
    pub kind: String,
    /// GitHub: only members of this organisation may sign in.
    #[serde(default)]
    pub organization: String,
    pub name: String,
    /// May be blank for GitHub (github.com).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub default_role: String,
    #[serde(default)]
    pub allowed_domains: String,
    /// The optional role mapping: the claim, and lines `value = role`.
    #[serde(default)]
    pub role_claim: String,
    #[serde(default)]
    pub role_mapping: String,
}

/// "Members whose `role_claim` contains `value` get `role`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMapping {
    pub value: String,
    pub role: String,
}

/// A "Sign in with …" button on the sign-in page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginProvider {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoOverview {
    pub providers: Vec<ProviderView>,
    /// What the admin registers at the provider as the redirect (callback) URI.
    pub redirect_uri: String,
    /// Members other than admins may not sign in with a password.
    pub required: bool,
}

impl AttributePreset {
    pub fn find(key: &str) -> Option<&'static AttributePreset> {
        ATTRIBUTE_PRESETS.iter().find(|p| p.key == key)
    }
}
