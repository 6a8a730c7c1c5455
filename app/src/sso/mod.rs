//! Single sign-on: each tenant's SAML 2.0, OpenID Connect and GitHub providers (Settings → Single sign-on), the
//! sign-in round trip through them, and the identities they link to members.
//!
//! `providers` holds the provider forms and their storage; `oauth_service` (OpenID Connect,
//! GitHub) and `saml_service` each run their protocol's round trip and hand the verified person
//! to `sign_in`, the end they share. Services depend on `sign_in`, `providers` and `paths`
//! (every SSO URL), never on each other or on `api`.

pub mod api;
#[cfg(feature = "ssr")]
pub mod github;
#[cfg(feature = "ssr")]
pub mod http;
pub mod model;
#[cfg(feature = "ssr")]
pub mod oauth_service;
#[cfg(feature = "ssr")]
pub mod oidc;
pub mod pages;
pub mod paths;
#[cfg(feature = "ssr")]
pub mod providers;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod saml;
#[cfg(feature = "ssr")]
pub mod saml_service;
#[cfg(feature = "ssr")]
pub mod sign_in;
