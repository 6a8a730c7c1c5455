//! Who may reach a tenant and how: personal API keys, OAuth 2.0 clients (client-credentials
//! grant) and the permission-check API under Settings → API access, with the log of what each key and client called (`usage`); IP allowlists under
//! Settings → Security.

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod network;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod token;
#[cfg(feature = "ssr")]
pub mod usage;
#[cfg(feature = "ssr")]
pub mod verified;
