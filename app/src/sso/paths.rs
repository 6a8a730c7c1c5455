//! Our single sign-on URLs, in one place: the routes the server mounts, the URLs given to
//! identity providers (callback, ACS, metadata) and the links pages show are all made from these.
//! A route names its provider `{id}`, as axum's path syntax does.

use uuid::Uuid;

/// Where OpenID Connect and GitHub providers send the browser back (one for all providers).
pub const CALLBACK: &str = "/sso/callback";
/// Starts a sign-in with a provider (`?test=1`: an admin's test sign-in).
pub const START: &str = "/sso/{id}/start";
/// Our SAML service provider metadata for one IdP (public: IdPs fetch it).
pub const SAML_METADATA: &str = "/sso/saml/{id}/metadata";
/// The SAML assertion consumer service, which IdPs post to from their own origin.
pub const SAML_ACS: &str = "/sso/saml/{id}/acs";
/// Where the ACS sends the browser once the assertion is verified: a same-site GET, which
/// carries the session cookie the IdP's cross-site POST could not.
pub const SAML_FINISH: &str = "/sso/saml/{id}/finish";

/// `route` for one provider.
pub fn of(route: &str, provider: Uuid) -> String {
    route.replace("{id}", &provider.to_string())
}

pub fn start(provider: Uuid) -> String {
    of(START, provider)
}

pub fn saml_metadata(provider: Uuid) -> String {
    of(SAML_METADATA, provider)
}

pub fn saml_acs(provider: Uuid) -> String {
    of(SAML_ACS, provider)
}

pub fn saml_finish(provider: Uuid) -> String {
    of(SAML_FINISH, provider)
}

/// Whether `path` is a provider's assertion consumer service.
pub fn is_saml_acs(path: &str) -> bool {
    let (prefix, suffix) = SAML_ACS.split_once("{id}").unwrap_or_default();
    path.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix)).is_some_and(|id| Uuid::try_parse(id).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_fill_in_the_id_and_only_real_acs_paths_are_acs_paths() {
        let id = Uuid::nil();
        assert_eq!(start(id), format!("/sso/{id}/start"));
        assert_eq!(saml_acs(id), format!("/sso/saml/{id}/acs"));
        assert!(is_saml_acs(&saml_acs(id)));
        for other in [saml_finish(id), saml_metadata(id), "/sso/saml/x/acs".to_owned(), format!("{}/", saml_acs(id))] {
            assert!(!is_saml_acs(&other), "{other}");
        }
    }
}
