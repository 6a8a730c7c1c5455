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
    pub created_at: chrono::DateTime<chrono::Utc>,
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
