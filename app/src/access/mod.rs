//! Machine access to the API: personal API keys, OAuth 2.0 clients (client-credentials grant)
//! and the permission-check API, all under Settings → API access.

pub mod api;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod token;
