//! One module per page.

pub mod call_api;
pub mod diagnostics;
pub mod home;
pub mod not_found;
pub mod tokens;
