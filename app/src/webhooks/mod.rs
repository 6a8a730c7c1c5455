//! Outbound webhooks: admins subscribe a URL to kinds of the tenant's events (Settings →
//! Webhooks). A trigger on the event bus's table queues a delivery per subscribed webhook in
//! the publishing transaction (nothing rolled back is sent, nothing committed is lost); a
//! sender on every server claims due deliveries, signs them the Standard Webhooks way and
//! posts them through the SSRF-guarded client, retrying with growing pauses for a day. Every
//! attempt is logged with what was sent and answered; an admin can send one again. A webhook
//! whose receiver fails for a day is turned off and the admins are told.

pub mod api;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod repo;
#[cfg(feature = "ssr")]
pub mod sender;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod signature;
