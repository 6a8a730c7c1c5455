//! Authentication and membership: local accounts, sign-in, sessions, roles.

pub mod api;
#[cfg(feature = "ssr")]
pub mod mfa;
pub mod mfa_api;
pub mod mfa_pages;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod password;
pub mod permission;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod session_registry;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod totp;
