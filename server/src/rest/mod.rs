//! REST handlers: thin adapters over the app's services.

pub mod health;
