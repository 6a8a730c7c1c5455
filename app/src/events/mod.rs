//! The tenant's event bus and the portal's socket. A service publishes a typed event inside
//! its own transaction (`bus::publish`); PostgreSQL announces it when, and only when, that
//! transaction commits; every server instance hears the announcement (`listener`) and hands it
//! to the sockets of that tenant (`hub`), which pass on what each member may see. The events
//! stay in the tenant's `events` table for a short window so a reconnecting browser can ask
//! for what it missed.

pub mod model;

#[cfg(feature = "ssr")]
pub mod bus;
#[cfg(feature = "ssr")]
pub mod due;
#[cfg(feature = "ssr")]
pub mod hub;
#[cfg(feature = "ssr")]
pub mod listener;
#[cfg(feature = "ssr")]
pub mod repo;
