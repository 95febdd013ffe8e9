//! HTTP routes outside Leptos: sign-in, callback and sign-out.

pub mod auth;
pub mod metrics;
mod page;
