use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A provider as Settings → Single sign-on lists it (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    pub id: Uuid,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub default_role: String,
    pub allowed_domains: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
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
}
