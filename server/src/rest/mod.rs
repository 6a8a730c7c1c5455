//! REST handlers: thin adapters over the app's services.

pub mod catalog;
pub mod health;
