//! Tenancy: which organisation a request belongs to, and provisioning new ones.

#[cfg(feature = "ssr")]
pub mod cache;
pub mod model;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod service;
