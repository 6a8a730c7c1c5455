//! Shared components: the portal shell, form fields, notices, charts.

pub mod chart;
pub mod form;
pub mod layout;
pub mod live;
pub mod markdown;
pub mod placeholder;
