//! Notifications: what concerns a member, told in the app (the bell, the notifications page)
//! whether or not they were looking. Security notifications follow the audit log: `rules`
//! maps audited actions to who is told, so every audited change to an account or to the
//! tenant's security reaches the people it concerns without each service remembering to.

pub mod api;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
pub mod service;
