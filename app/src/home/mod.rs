//! The home page, about the member: the teams the catalog says they are in, what those teams
//! own and what changed there lately, their unread notifications, and a search of the catalog.

pub mod api;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod service;
