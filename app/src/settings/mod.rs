//! Settings: tenant administration pages. Users and roles for now.

pub mod api;
pub mod pages;
