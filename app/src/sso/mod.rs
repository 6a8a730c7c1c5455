//! Single sign-on: each tenant's OpenID Connect providers (Settings → Single sign-on), the
//! sign-in round trip through them, and the identities they link to members.

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod oidc;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
