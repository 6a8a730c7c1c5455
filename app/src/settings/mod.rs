//! Settings: tenant administration pages: users and roles, security policy.

pub mod api;
pub mod pages;
pub mod security_api;
pub mod security_pages;
