//! Single sign-on: each tenant's SAML 2.0, OpenID Connect and GitHub providers (Settings → Single sign-on), the
//! sign-in round trip through them, and the identities they link to members.

pub mod api;
#[cfg(feature = "ssr")]
pub mod github;
pub mod model;
#[cfg(feature = "ssr")]
pub mod oidc;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod saml;
#[cfg(feature = "ssr")]
pub mod saml_service;
#[cfg(feature = "ssr")]
pub mod service;
